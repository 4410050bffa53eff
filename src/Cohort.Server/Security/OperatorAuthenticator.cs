namespace Cohort.Server.Security;

/// <summary>Turns an operator token (admin token or a viewer token) into an identity.</summary>
internal sealed class OperatorAuthenticator(AdminAuthenticator admin, ViewerTokens viewers)
{
    /// <summary>The identity of <paramref name="token"/>, or null when it is neither the admin token nor a viewer token.</summary>
    public AccessIdentity? Authenticate(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        if (admin.IsAdminToken(token)) return new AccessIdentity("admin", AccessRole.Admin);
        return viewers.Find(token) is { } name ? new AccessIdentity(name, AccessRole.Viewer) : null;
    }
}
