using System.Text;

namespace Cohort.Strategies;

/// <summary>The registry as people read it: <c>cohort strategies list</c> and the table in docs/strategies.md.</summary>
internal static class StrategyCatalog
{
    /// <summary>The words for each capability flag, in the order they are shown.</summary>
    public static readonly (StrategyCapabilities Flag, string Word)[] Words =
    [
        (StrategyCapabilities.SumBased, "sum-based"),
        (StrategyCapabilities.NeedsEveryUpdate, "needs-every-update"),
        (StrategyCapabilities.Asynchronous, "asynchronous"),
        (StrategyCapabilities.Stateful, "stateful"),
        (StrategyCapabilities.Personalization, "personalization"),
        (StrategyCapabilities.DifferentialPrivacy, "privacy"),
        (StrategyCapabilities.SecureAggregation, "secure-aggregation"),
    ];

    /// <summary>"sum-based, stateful, …", or "none".</summary>
    public static string Describe(StrategyCapabilities capabilities)
    {
        var words = Words.Where(w => (capabilities & w.Flag) != 0).Select(w => w.Word).ToArray();
        return words.Length == 0 ? "none" : string.Join(", ", words);
    }

    /// <summary>One block per strategy: name and origin, summary, capabilities, one line per parameter.</summary>
    public static string Text(StrategyRegistry registry)
    {
        var sb = new StringBuilder();
        foreach (var d in registry.Descriptors)
        {
            sb.Append(d.Name).Append("  (").Append(registry.OriginOf(d.Name)).Append(")\n");
            sb.Append("  ").Append(d.Summary).Append('\n');
            sb.Append("  capabilities: ").Append(Describe(d.Capabilities)).Append('\n');
            if (d.MemoryBound is { } bound) sb.Append("  server memory: ").Append(bound).Append('\n');
            if (d.NeedsResults?.Invoke(Records.Config.Empty) is { } needs)
                sb.Append("  fit results a round: at least ").Append(needs.Count).Append(" with the default params (").Append(needs.Rule).Append("); selection.min_fit must reach it\n");
            if (d.Parameters.Count == 0) sb.Append("  parameters: none\n");
            foreach (var p in d.Parameters)
                sb.Append("  ").Append(p.Name).Append(": ").Append(p.Rule).Append(", default ").Append(p.Default).Append(" — ").Append(p.Description).Append('\n');
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>A Markdown table: name, summary, capabilities, parameters with rule and default, the stated memory bound.</summary>
    public static string Markdown(StrategyRegistry registry)
    {
        var sb = new StringBuilder();
        sb.Append("| name | algorithm | capabilities | parameters (rule; default) | server memory |\n|---|---|---|---|---|\n");
        foreach (var d in registry.Descriptors)
        {
            string parameters = d.Parameters.Count == 0
                ? "—"
                : string.Join("<br>", d.Parameters.Select(p => $"`{p.Name}`: {p.Rule}; {p.Default}"));
            sb.Append($"| `{d.Name}` | {Cell(d.Summary)} | {Describe(d.Capabilities)} | {Cell(parameters)} | {Cell(d.MemoryBound ?? "—")} |\n");
        }
        return sb.ToString();
    }

    // A plugin's text may hold a '|', which would end the cell.
    private static string Cell(string text) => text.Replace("|", "\\|", StringComparison.Ordinal);
}
