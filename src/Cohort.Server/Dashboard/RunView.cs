using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Server.Dashboard;

/// <summary>Everything one run page shows, loaded once per request.</summary>
internal sealed record RunView(
    RunRecord Run, IReadOnlyList<RoundRecord> Rounds, IReadOnlyList<NodeResultRecord> Results,
    IReadOnlyList<EventRecord> Events, Plan? Plan, string? PlanError, RoundProgress? Progress, IReadOnlyList<(int Round, long Bytes)> Models)
{
    /// <summary>Numeric values of a metric map, ignoring strings and booleans.</summary>
    public static double? Value(Metrics metrics, string key) =>
        metrics.TryGetValue(key, out var v) && v.IsNumber ? v.AsDouble() : null;

    /// <summary>The metric the runs list and comparisons rank by: accuracy, else AUC, else loss.</summary>
    public static (string Name, double Value, int Round)? Best(IReadOnlyList<RoundRecord> rounds)
    {
        foreach (var key in new[] { "accuracy", "auc" })
        {
            (string, double, int)? best = null;
            foreach (var r in rounds)
            {
                if (Value(r.Metrics, key) is { } v && double.IsFinite(v) && (best is null || v > best.Value.Item2)) best = (key, v, r.Round);
            }
            if (best is not null) return best;
        }
        var loss = rounds.Where(r => r.Loss is { } l && double.IsFinite(l)).MinBy(r => r.Loss);
        return loss is null ? null : ("loss", loss.Loss!.Value, loss.Round);
    }

    /// <summary>How long the run has taken so far, or took.</summary>
    public static TimeSpan? Elapsed(RunRecord run) =>
        run.StartedAt is { } s ? (run.FinishedAt ?? DateTimeOffset.UtcNow) - s : null;
}
