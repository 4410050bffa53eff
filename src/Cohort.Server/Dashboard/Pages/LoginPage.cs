namespace Cohort.Server.Dashboard.Pages;

/// <summary>The only page that answers without credentials: a form that takes a user name and password, or an operator token.</summary>
internal static class LoginPage
{
    /// <summary>Renders the whole page, with an optional error and the page to return to.</summary>
    public static string Render(string? error, string? next, string formToken) => $$"""
        <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Log in · Cohort</title><link rel="stylesheet" href="/assets/dashboard.css"></head>
        <body class="login"><main><h1>Cohort</h1>
        <form method="post" action="/login" id="login">
        <p>Log in with your user name and password (<code>cohort users add NAME --role R</code>), or leave them empty and use the admin token (<code>DATA_DIR/admin.token</code>) or an operator token (<code>cohort token create --viewer NAME</code>).</p>
        {{(error is null ? "" : $"<p class=\"error\" id=\"login-error\">{Html.E(error)}</p>")}}
        <input type="hidden" name="next" value="{{Html.E(LocalPath.OrRoot(next))}}">
        <input type="hidden" name="{{AntiForgery.FieldName}}" value="{{Html.E(formToken)}}">
        <label>user <input name="user" autocomplete="username" autofocus></label>
        <label>password <input type="password" name="password" autocomplete="current-password"></label>
        <label>or token <input type="password" name="token" autocomplete="off"></label>
        <button>log in</button></form></main></body></html>
        """;
}
