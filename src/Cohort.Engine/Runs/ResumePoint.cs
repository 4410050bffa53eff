using Cohort.Engine.Models;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Strategies;

namespace Cohort.Engine.Runs;

/// <summary>
/// Where an interrupted run continues: the latest completed round whose model (and, for a stateful
/// strategy, whose saved strategy state) loads intact. Rounds after it are discarded and rerun; since
/// sampling is seeded per round and aggregation is order-independent, the rerun ends where an
/// uninterrupted run would have.
/// </summary>
/// <param name="Round">The round whose model the run continues from (0: the initial model).</param>
/// <param name="Global">That round's global model.</param>
internal sealed record ResumePoint(int Round, ParameterSet Global)
{
    /// <summary>
    /// Finds the resume point for a run interrupted in <paramref name="startRound"/>, restores
    /// <paramref name="stateful"/> (null: the strategy keeps no state) from it, discards the rounds after
    /// it and records <c>run.resumed</c> (and <c>run.checkpoint_fallback</c> when it is not the round
    /// before <paramref name="startRound"/>). Throws <see cref="RunFailedException"/> when no round can be used.
    /// </summary>
    public static async Task<ResumePoint> RestoreAsync(
        string runId, string strategyName, IStatefulStrategy? stateful, int startRound, IStateStore store, IModelStore models, CancellationToken ct)
    {
        var skipped = new List<string>();
        for (int round = startRound - 1; round >= 0; round--)
        {
            var (global, checkpoint, problem) = await LoadAsync(runId, round, stateful is not null, models, ct);
            if (problem is not null)
            {
                skipped.Add(problem);
                continue;
            }
            string state;
            if (stateful is null)
            {
                state = $"strategy '{strategyName}' keeps no state between rounds";
            }
            else if (checkpoint is null)
            {
                state = "strategy state starts fresh, as at the start of the run";
            }
            else
            {
                try
                {
                    stateful.Restore(checkpoint);
                }
                catch (Exception e) when (e is InvalidOperationException or InvalidDataException or ArgumentException or KeyNotFoundException)
                {
                    // A checkpoint that does not fit the plan's strategy means the plan changed: continuing
                    // with any other state would silently diverge.
                    throw new RunFailedException($"cannot resume at round {startRound}: the strategy state of round {round} does not fit the plan's strategy: {e.Message}");
                }
                state = $"strategy state restored from round {round}";
            }
            if (skipped.Count > 0)
            {
                await store.DeleteRoundsAfterAsync(runId, round, ct);
                var run = await store.GetRunAsync(runId, ct);
                if (run is not null) await store.SaveRunAsync(run with { RoundsDone = round }, ct);
                await store.AddEventAsync(runId, "run.checkpoint_fallback",
                    $"cannot resume from round {startRound - 1}: {string.Join("; ", skipped)}; rerunning from round {round + 1}", ct);
            }
            await store.AddEventAsync(runId, "run.resumed", $"resumed at round {round + 1} from the saved model of round {round}; {state}", ct);
            return new ResumePoint(round, global!);
        }
        throw new RunFailedException($"cannot resume at round {startRound}: no earlier round has a usable model{(stateful is null ? "" : " and strategy state")}: {string.Join("; ", skipped)}");
    }

    private static async Task<(ParameterSet? Global, StrategyCheckpoint? Checkpoint, string? Problem)> LoadAsync(
        string runId, int round, bool stateful, IModelStore models, CancellationToken ct)
    {
        ParameterSet? global;
        try
        {
            global = await models.LoadAsync(runId, round, ct);
        }
        catch (InvalidDataException e)
        {
            return (null, null, $"the model of round {round} is corrupt ({e.Message})");
        }
        if (global is null) return (null, null, $"the model of round {round} is missing");
        // Round 0 is the initial model: a strategy built from the plan is in its state of that moment.
        if (!stateful || round == 0) return (global, null, null);
        try
        {
            var checkpoint = await models.LoadCheckpointAsync(runId, round, ct);
            return checkpoint is null
                ? (null, null, $"the strategy state of round {round} is missing")
                : (global, checkpoint, null);
        }
        catch (InvalidDataException e)
        {
            return (null, null, $"the strategy state of round {round} is corrupt ({e.Message})");
        }
    }
}
