using System.Text;
using Cohort.Engine.State;
using Cohort.Plans;

namespace Cohort.Server.Dashboard.Pages;

/// <summary>Starting a run: pick, upload or paste a plan, choose nodes, adjust the usual hyperparameters.</summary>
internal static class NewRunPage
{
    /// <summary>The hyperparameter fields and the plan keys they set.</summary>
    public static readonly (string Field, string PlanKey, string Label)[] Overrides =
    [
        ("name", "name", "run name"),
        ("experiment", "experiment", "experiment"),
        ("rounds", "rounds", "rounds"),
        ("learning_rate", "train.learning_rate", "learning rate"),
        ("batch_size", "train.batch_size", "batch size"),
        ("local_epochs", "train.local_epochs", "local epochs"),
        ("local_steps", "train.local_steps", "local steps"),
        ("optimizer", "train.optimizer", "optimizer (sgd, adam)"),
        ("weight_decay", "train.weight_decay", "weight decay"),
        ("min_available", "selection.min_available", "min available nodes"),
        ("min_fit", "selection.min_fit", "min fit nodes"),
        ("min_evaluate", "selection.min_evaluate", "min evaluate nodes"),
    ];

    /// <summary>Renders the form with the chosen plan's text, the online nodes and an optional error.</summary>
    public static string Render(IReadOnlyList<PlanLibrary.Entry> plans, string? chosenKey, string yaml, IReadOnlyList<NodeRow> nodes,
        IReadOnlyDictionary<string, string> values, IReadOnlyCollection<string> pickedNodes, string? error, Plan? current = null)
    {
        var sb = new StringBuilder("<h1>Start a run</h1>");
        if (error is not null) sb.Append("<pre class=\"error\" id=\"submit-error\">").Append(Html.E(error)).Append("</pre>");
        sb.Append("<form method=\"get\" action=\"/runs/new\" class=\"filters\"><label>start from <select name=\"from\">");
        sb.Append("<option value=\"\">(paste or upload below)</option>");
        foreach (var p in plans)
            sb.Append("<option").Append(p.Key == chosenKey ? " selected" : "").Append(" value=\"").Append(Html.E(p.Key)).Append("\">").Append(Html.E(p.Label)).Append("</option>");
        sb.Append("</select></label><button>load plan</button></form>");

        sb.Append("<form method=\"post\" action=\"/runs\" enctype=\"multipart/form-data\" id=\"new-run\"><div class=\"columns\"><div>")
          .Append("<label>plan (YAML)<textarea name=\"plan\" rows=\"24\" wrap=\"off\" spellcheck=\"false\">").Append(Html.E(yaml)).Append("</textarea></label>")
          .Append("<label>or upload a plan file <input type=\"file\" name=\"plan_file\" accept=\".yaml,.yml,text/yaml\"></label></div><div>")
          .Append("<fieldset><legend>hyperparameters (empty keeps the plan's value)</legend>");
        foreach (var (field, _, label) in Overrides)
            sb.Append("<label>").Append(Html.E(label)).Append(" <input name=\"").Append(field).Append("\" value=\"").Append(Html.E(values.GetValueOrDefault(field)))
              .Append("\" placeholder=\"").Append(Html.E(current is null ? "" : Current(current, field))).Append("\"></label>");
        sb.Append("</fieldset><fieldset><legend>nodes (none ticked: any node with the plan's app)</legend>");
        if (nodes.Count == 0) sb.Append("<p class=\"muted\">no nodes known</p>");
        foreach (var n in nodes)
        {
            sb.Append("<label><input type=\"checkbox\" name=\"nodes\" value=\"").Append(Html.E(n.Name)).Append('"')
              .Append(pickedNodes.Contains(n.Name) ? " checked" : "").Append("> ").Append(Html.E(n.Name)).Append(" <span class=\"muted\">")
              .Append(Html.E(n.Status.ToShownText())).Append(", app ").Append(Html.E(n.App)).Append("</span></label>");
        }
        sb.Append("</fieldset><button id=\"start-run\">start run</button></div></div></form>");
        return sb.ToString();
    }

    /// <summary>The plan's value of a field, shown as the field's placeholder.</summary>
    private static string Current(Plan p, string field) => field switch
    {
        "name" => p.Name,
        "experiment" => p.Experiment ?? p.Name,
        "rounds" => I(p.Rounds),
        "learning_rate" => Html.Num(p.Train.LearningRate),
        "batch_size" => I(p.Train.BatchSize),
        "local_epochs" => p.Train.LocalEpochs is { } e ? I(e) : "",
        "local_steps" => p.Train.LocalSteps is { } s ? I(s) : "",
        "optimizer" => p.Train.Optimizer,
        "weight_decay" => Html.Num(p.Train.WeightDecay),
        "min_available" => I(p.Selection.MinAvailable),
        "min_fit" => I(p.Selection.MinFit),
        "min_evaluate" => I(p.Selection.MinEvaluate),
        _ => "",
    };

    private static string I(long v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Applies the filled-in fields and the node choice to a plan's text.</summary>
    public static string Apply(string yaml, IReadOnlyDictionary<string, string> values, IReadOnlyCollection<string> nodes, string source = "dashboard")
    {
        var changes = new List<(string, string)>();
        foreach (var (field, key, _) in Overrides)
        {
            if (values.TryGetValue(field, out var v) && !string.IsNullOrWhiteSpace(v)) changes.Add((key, v.Trim()));
        }
        if (changes.Count > 0) yaml = PlanText.WithValues(yaml, changes, source);
        if (nodes.Count > 0) yaml = PlanText.WithList(yaml, "selection.nodes", nodes, source);
        return yaml;
    }
}
