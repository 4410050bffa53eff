using Cohort.Engine.State;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;

namespace Cohort.Server.Control;

/// <summary>Stored runs and rounds in the Control API's shape, shared by the API and by in-process runs (simulation) that print the same reports.</summary>
internal static class RunDetails
{
    /// <summary>A run's summary.</summary>
    public static RunInfo Info(RunRecord r) => new()
    {
        Id = r.Id,
        Name = r.Name,
        Experiment = r.Experiment,
        Strategy = r.Strategy,
        Status = r.Status.ToText(),
        App = r.App,
        RoundsPlanned = r.RoundsPlanned,
        RoundsDone = r.RoundsDone,
        CreatedAt = r.CreatedAt.ToString("O"),
        StartedAt = r.StartedAt?.ToString("O") ?? "",
        FinishedAt = r.FinishedAt?.ToString("O") ?? "",
        Error = r.Error ?? "",
        Submitter = r.Submitter ?? "",
    };

    /// <summary>A stored round with its nodes' results.</summary>
    public static RoundInfo Round(RoundRecord round, IEnumerable<NodeResultRecord> results)
    {
        var info = new RoundInfo
        {
            Round = round.Round,
            Status = round.Status.ToText(),
            StartedAt = round.StartedAt.ToString("O"),
            FinishedAt = round.FinishedAt?.ToString("O") ?? "",
            AggregationSeconds = round.AggregationSeconds,
            Loss = round.Loss ?? double.NaN,
            Error = round.Error ?? "",
            HasCentral = round.CentralLoss is not null,
            CentralLoss = round.CentralLoss ?? double.NaN,
        };
        ScalarMaps.CopyTo(round.Metrics, info.Metrics);
        ScalarMaps.CopyTo(round.FitMetrics, info.FitMetrics);
        ScalarMaps.CopyTo(round.CentralMetrics, info.CentralMetrics);
        foreach (var (phase, seconds) in round.Phases) info.PhaseSeconds[phase] = seconds.AsDouble();
        foreach (var n in results)
        {
            var nr = new NodeRoundResult
            {
                Node = n.Node,
                Phase = n.Phase,
                Ok = n.Ok,
                Error = n.Error ?? "",
                Examples = n.Examples,
                Loss = n.Loss ?? double.NaN,
                DurationSeconds = n.DurationSeconds,
                UploadBytes = n.UploadBytes,
            };
            ScalarMaps.CopyTo(n.Metrics, nr.Metrics);
            info.Nodes.Add(nr);
        }
        return info;
    }

    /// <summary>A whole run: summary, plan, rounds with node results, events; null when unknown.</summary>
    public static async Task<RunDetail?> LoadAsync(IStateStore store, string runId, CancellationToken ct)
    {
        var run = await store.GetRunAsync(runId, ct);
        if (run is null) return null;
        var detail = new RunDetail { Run = Info(run), PlanYaml = run.PlanYaml };
        // Rounds first: a round's node results are committed before or with its record, so every round read has its
        // results in the read after it (read the other way, a round finishing in between came without them).
        var rounds = await store.ListRoundsAsync(run.Id, ct);
        var results = (await store.ListNodeResultsAsync(run.Id, ct)).ToLookup(r => r.Round);
        foreach (var round in rounds) detail.Rounds.Add(Round(round, results[round.Round]));
        foreach (var e in await store.ListEventsAsync(run.Id, ct)) detail.Events.Add($"{e.At:O} {e.Kind}: {e.Message}");
        return detail;
    }
}
