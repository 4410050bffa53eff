using System.Diagnostics;
using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;
using Microsoft.Extensions.Logging;

namespace Cohort.Engine.Runs;

/// <summary>
/// FedBuff (Nguyen et al., 2022, "Federated Learning with Buffered Asynchronous Aggregation"): every
/// idle node is kept training on the newest global model; each arriving update Δᵢ = yᵢ − x(sent) is
/// weighted by s(τᵢ)·nᵢ (τᵢ = model versions published since it was sent) and folded into a running
/// sum; after K arrivals the server publishes x ← x + η_g·Σ s(τᵢ)·nᵢ·Δᵢ / Σ nᵢ as the next version.
/// A version is stored as a round (model, fit metrics, central evaluation). Memory: the sum plus the
/// model versions still referenced by tasks in flight. Works through <see cref="INodePool"/>, so a
/// simulation runs it unchanged.
/// </summary>
internal sealed class BufferedAsyncExecutor(INodePool pool, IStateStore store, IModelStore models, ILogger log)
{
    private sealed record InFlight(PendingTask Task, int Version, CancellationTokenSource Timeout);

    /// <summary>Runs the plan's <c>rounds</c> model versions from <paramref name="global"/> (the model of version <paramref name="startVersion"/> − 1).</summary>
    public async Task ExecuteAsync(RunRecord run, Plan plan, IStrategy strategy, ParameterSet global, int startVersion,
        Action<RoundProgress> publish, CancellationToken ct, CentralEvaluator? centralEvaluator = null)
    {
        var spec = plan.Asynchronous ?? throw new ArgumentException("the plan has no asynchronous section", nameof(plan));
        int version = startVersion - 1;
        var sent = new Dictionary<int, ParameterSet> { [version] = global };
        var inFlight = new Dictionary<Task<TaskOutcome>, InFlight>();
        var coolDown = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var sum = global.ZerosLike();
        var metrics = new WeightedMetrics();
        var failures = new List<NodeFailure>();
        double examples = 0;
        int arrivals = 0, consecutiveFailures = 0, taskCounter = 0;
        var versionStarted = DateTimeOffset.UtcNow;
        var aggregationTime = new Stopwatch();
        var waitDeadline = DateTimeOffset.UtcNow + plan.WaitForNodes;
        var terms = RunTerms.Of(plan, run.Submitter);
        // The buffer of a version interrupted by a server restart: its updates were kept as they arrived and
        // are folded in again in arrival order, with the staleness they had.
        foreach (var k in await KeptBufferAsync(run, version + 1, ct))
        {
            if (!sent.TryGetValue(k.SentVersion, out var from))
                sent[k.SentVersion] = from = await models.LoadAsync(run.Id, k.SentVersion, ct)
                    ?? throw new RunFailedException($"version {version + 1}: the kept update of '{k.Node}' was trained from version {k.SentVersion}, whose model is missing");
            Fold(k.SentVersion, from, k.Outcome);
            await RecordAsync(run.Id, version + 1, k.Node, k.Outcome, null, null, ct);
        }
        // The stop callback runs on another thread: it sees the tasks in flight through a snapshot.
        PendingTask[] snapshot = [];
        using var stop = ct.Register(() =>
        {
            foreach (var t in Volatile.Read(ref snapshot)) pool.Fail(t, FailureKind.Stopped, "run stopped");
        });

        // Σ s(τ)·n·(y − x_sent), streamed; the result buffer is not kept.
        void Fold(int sentVersion, ParameterSet start, TaskOutcome outcome)
        {
            aggregationTime.Start();
            double weight = spec.Staleness.Weight(version - sentVersion) * outcome.Examples;
            var shared = new ParameterSet(outcome.LoadParameters()!.Take(start.Count));
            ParameterMath.AddScaled(sum, shared, weight);
            ParameterMath.AddScaled(sum, start, -weight);
            aggregationTime.Stop();
            examples += outcome.Examples;
            metrics.Add(outcome.Metrics, outcome.Examples);
            arrivals++;
        }

        try
        {
            while (version < plan.Rounds)
            {
                ct.ThrowIfCancellationRequested();
                // A buffer rebuilt full after a restart is applied before any new task goes out, as it was going to be.
                if (arrivals >= spec.BufferSize) goto Publish;
                // Keep idle nodes busy, up to the plan's concurrency.
                var busy = inFlight.Values.Select(f => f.Task.Node).ToHashSet(StringComparer.Ordinal);
                var now = DateTimeOffset.UtcNow;
                var idle = NodeSelection.Eligible(plan, pool)
                    .Where(n => !busy.Contains(n) && (!coolDown.TryGetValue(n, out var until) || until <= now)).ToArray();
                int room = spec.Concurrency > 0 ? spec.Concurrency - inFlight.Count : idle.Length;
                if (room > 0 && idle.Length > 0)
                {
                    var context = new RoundContext(run.Id, version + 1, plan.Rounds, plan.Selection with { FractionFit = 1.0, MinFit = 1 },
                        plan.FitConfig(version + 1), plan.EvaluateConfig(version + 1), new Random(RoundSeed.Of(plan.Seed, version)));
                    foreach (var instruction in strategy.ConfigureFit(context, global, idle).Take(room))
                    {
                        var task = new PendingTask
                        {
                            Id = $"{run.Id}-v{version}-fit-{instruction.Node}-{++taskCounter}",
                            Node = instruction.Node,
                            RunId = run.Id,
                            Round = version + 1,
                            Kind = TaskKind.Fit,
                            App = plan.App.Name,
                            AppSettings = plan.App.Settings,
                            Dataset = plan.Dataset,
                            Config = instruction.Config,
                            Settings = plan.TaskSettings,
                            Terms = terms,
                            Parameters = instruction.Parameters,
                            Expected = instruction.ExpectedResult ?? global,
                            Limits = plan.Failure.Limits,
                            Timeout = plan.RoundTimeout,
                            OfflineGrace = plan.Failure.OfflineGrace,
                        };
                        CrashPoint.Reach("configure", version + 1);
                        var timeout = new CancellationTokenSource(plan.RoundTimeout);
                        timeout.Token.Register(() => pool.Fail(task, FailureKind.Timeout, $"no result within the round timeout of {plan.RoundTimeout.TotalSeconds:0.#}s"));
                        inFlight[pool.Submit(task)] = new InFlight(task, version, timeout);
                    }
                    Volatile.Write(ref snapshot, inFlight.Values.Select(f => f.Task).ToArray());
                }
                if (inFlight.Count == 0)
                {
                    // With no eligible node connected the reason says where the nodes are; otherwise they are cooling down after failures.
                    bool none = NodeSelection.Eligible(plan, pool).Count == 0;
                    if (DateTimeOffset.UtcNow > waitDeadline)
                        throw new RunFailedException($"version {version + 1}: no node could take a task after wait_for_nodes ({plan.WaitForNodes.TotalSeconds:0.#}s)"
                            + (none ? $": {NodeSelection.Shortage(run.Id, plan, pool, 1, "needed")}" : ""));
                    publish(new RoundProgress(run.Id, version + 1, ProgressPhase.WaitingForNodes, 1, 0)
                    {
                        WaitingReason = none ? NodeSelection.WaitingReason(run.Id, plan, pool, 1, "needed") : null,
                    });
                    await Task.Delay(100, ct);
                    continue;
                }
                waitDeadline = DateTimeOffset.UtcNow + plan.WaitForNodes;

                var done = await Task.WhenAny(inFlight.Keys);
                var flight = inFlight[done];
                inFlight.Remove(done);
                flight.Timeout.Dispose();
                ct.ThrowIfCancellationRequested();
                var outcome = await done;
                string? error = outcome.Error;
                var kind = outcome.Failure;
                if (outcome.Ok && outcome.Examples <= 0)
                {
                    error = $"reported {outcome.Examples} training examples";
                    kind = FailureKind.Rejected;
                }
                if (outcome.Ok && error is null)
                {
                    // Kept before it is folded in, numbered by arrival, so a restart rebuilds this same buffer.
                    await models.SaveRoundResultAsync(run.Id, version + 1, $"{arrivals:D6}-{flight.Task.Node}", new KeptResult(flight.Task.Node, flight.Version, outcome), ct);
                    CrashPoint.Reach("result", version + 1);
                    Fold(flight.Version, sent[flight.Version], outcome);
                    consecutiveFailures = 0;
                }
                else
                {
                    failures.Add(new NodeFailure(flight.Task.Node, error!));
                    // A failing node is left alone for a moment rather than re-tasked in a tight loop; one that
                    // refused the run under its site policy would refuse again, so it gets no more of it.
                    coolDown[flight.Task.Node] = kind == FailureKind.SitePolicy ? DateTimeOffset.MaxValue : DateTimeOffset.UtcNow + TimeSpan.FromSeconds(1);
                    if (++consecutiveFailures > 10 * Math.Max(1, NodeSelection.Eligible(plan, pool).Count))
                        throw new RunFailedException($"version {version + 1}: {consecutiveFailures} fit tasks failed in a row; last failures: {Describe(failures.TakeLast(5))}");
                }
                if (outcome.Fault is { } fault) log.LogError(fault, "Node {Node} fit failed inside Cohort (a defect, not the node's): {Reason}", flight.Task.Node, error);
                await RecordAsync(run.Id, version + 1, flight.Task.Node, outcome, error, kind, ct);
                publish(new RoundProgress(run.Id, version + 1, ProgressPhase.Buffering, spec.BufferSize, arrivals));
                ReleaseUnused(sent, inFlight.Values, version);

                if (arrivals < spec.BufferSize) continue;

                // Publish the next version.
            Publish:
                CrashPoint.Reach("aggregate", version + 1);
                aggregationTime.Start();
                var next = global.Clone();
                ParameterMath.AddScaled(next, sum, spec.ServerLearningRate / examples);
                aggregationTime.Stop();
                global = next;
                version++;
                sent[version] = global;
                await models.SaveAsync(run.Id, version, global, ct);
                CrashPoint.Reach("checkpoint", version);
                var context2 = new RoundContext(run.Id, version, plan.Rounds, plan.Selection, plan.FitConfig(version), plan.EvaluateConfig(version), new Random(version));
                var central = centralEvaluator is not null ? await centralEvaluator(version, global, ct) : await strategy.EvaluateCentralAsync(context2, global, ct);
                // The version's record and the run's count of rounds done are committed together.
                run = await store.CompleteRoundAsync(new RoundRecord(
                    run.Id, version, RoundStatus.Done, versionStarted, DateTimeOffset.UtcNow, aggregationTime.Elapsed.TotalSeconds,
                    null, Metrics.Empty, metrics.ToMetrics(), central?.Loss, central?.Metrics ?? Metrics.Empty,
                    failures.Count > 0 ? Describe(failures) : null), [], ct)
                    ?? throw new RunFailedException($"version {version}: run '{run.Id}' is no longer in the state store");
                await models.DiscardRoundResultsAsync(run.Id, -1, ct);
                log.LogInformation("Run {Run} version {Version}: {Arrivals} updates buffered", run.Id, version, arrivals);

                sum = global.ZerosLike();
                metrics = new WeightedMetrics();
                failures = [];
                examples = 0;
                arrivals = 0;
                versionStarted = DateTimeOffset.UtcNow;
                aggregationTime.Reset();
                ReleaseUnused(sent, inFlight.Values, version);
            }
        }
        finally
        {
            // Updates still in training would land on a finished run: they are dropped.
            foreach (var f in inFlight.Values)
            {
                pool.Fail(f.Task, FailureKind.Cancelled, "run finished before this update was needed");
                f.Timeout.Dispose();
            }
        }

        await EvaluateFinalAsync(run, plan, strategy, global, version, ct);
    }

    /// <summary>Federated evaluation of the final model, stored with the last version's round.</summary>
    private async Task EvaluateFinalAsync(RunRecord run, Plan plan, IStrategy strategy, ParameterSet global, int version, CancellationToken ct)
    {
        var context = new RoundContext(run.Id, version, plan.Rounds, plan.Selection, plan.FitConfig(version), plan.EvaluateConfig(version), new Random(version));
        var instructions = strategy.ConfigureEvaluate(context, global, NodeSelection.Eligible(plan, pool));
        if (instructions.Count == 0) return;
        var tasks = instructions.Select(i => new PendingTask
        {
            Id = $"{run.Id}-v{version}-eval-{i.Node}-{Guid.NewGuid().ToString("N")[..8]}",
            Node = i.Node,
            RunId = run.Id,
            Round = version,
            Kind = TaskKind.Evaluate,
            App = plan.App.Name,
            AppSettings = plan.App.Settings,
            Dataset = plan.Dataset,
            Config = i.Config,
            Settings = plan.TaskSettings,
            Terms = RunTerms.Of(plan, run.Submitter),
            Parameters = i.Parameters,
            Timeout = plan.RoundTimeout,
            OfflineGrace = plan.Failure.OfflineGrace,
        }).ToArray();
        using var timeout = new CancellationTokenSource(plan.RoundTimeout);
        using var onTimeout = timeout.Token.Register(() =>
        {
            foreach (var t in tasks) pool.Fail(t, FailureKind.Timeout, $"no result within the round timeout of {plan.RoundTimeout.TotalSeconds:0.#}s");
        });
        var outcomes = await Task.WhenAll(tasks.Select(pool.Submit));
        var results = new List<NodeResult<EvaluateResult>>();
        var failures = new List<NodeFailure>();
        for (int i = 0; i < tasks.Length; i++)
        {
            var o = outcomes[i];
            if (o.Ok) results.Add(new NodeResult<EvaluateResult>(tasks[i].Node, new EvaluateResult(o.Loss, o.Examples, o.Metrics)));
            else failures.Add(new NodeFailure(tasks[i].Node, o.Error!));
            await store.AddNodeResultAsync(new NodeResultRecord(
                run.Id, version, tasks[i].Node, "evaluate", o.Ok, o.Error, o.Examples, double.IsFinite(o.Loss) ? o.Loss : null,
                o.Metrics, o.DurationSeconds, o.UploadBytes, DateTimeOffset.UtcNow, o.Ok ? null : o.Failure ?? FailureKind.Other), ct);
        }
        if (results.Count == 0) return;
        var evaluation = strategy.AggregateEvaluate(context, results, failures);
        var last = (await store.ListRoundsAsync(run.Id, ct)).FirstOrDefault(r => r.Round == version);
        if (last is not null) await store.SaveRoundAsync(last with { Loss = evaluation.Loss, Metrics = evaluation.Metrics }, ct);
    }

    /// <summary>The updates kept for <paramref name="version"/> before a restart, in arrival order; recorded in an event.</summary>
    private async Task<IReadOnlyList<KeptResult>> KeptBufferAsync(RunRecord run, int version, CancellationToken ct)
    {
        var (kept, problems) = await models.LoadRoundResultsAsync(run.Id, version, ct);
        // Arrival order matters to the sum, so the buffer is used only up to the first update that cannot be read.
        if (problems.Count > 0)
        {
            await models.DiscardRoundResultsAsync(run.Id, -1, ct);
            await store.AddEventAsync(run.Id, "round.kept_result_unreadable", $"version {version}: {string.Join("; ", problems)}; the buffer starts empty", ct);
            return [];
        }
        if (kept.Count > 0)
        {
            await store.AddEventAsync(run.Id, "round.results_kept",
                $"version {version}: {kept.Count} buffered updates received before the server restarted are kept ({string.Join(", ", kept.Select(k => k.Node))})", ct);
            log.LogInformation("Run {Run} version {Version}: {Kept} buffered updates kept from before the restart", run.Id, version, kept.Count);
        }
        return kept;
    }

    private Task RecordAsync(string runId, int version, string node, TaskOutcome outcome, string? error, FailureKind? kind, CancellationToken ct) =>
        store.AddNodeResultAsync(new NodeResultRecord(
            runId, version, node, TaskKind.Fit.ToPhaseText(), error is null, error, outcome.Examples,
            double.IsFinite(outcome.Loss) ? outcome.Loss : null, outcome.Metrics, outcome.DurationSeconds, outcome.UploadBytes, DateTimeOffset.UtcNow,
            error is null ? null : kind ?? FailureKind.Other), ct);

    private static void ReleaseUnused(Dictionary<int, ParameterSet> sent, IEnumerable<InFlight> inFlight, int current)
    {
        var used = inFlight.Select(f => f.Version).ToHashSet();
        foreach (int v in sent.Keys.ToArray())
            if (v != current && !used.Contains(v)) sent.Remove(v);
    }

    private static string Describe(IEnumerable<NodeFailure> failures) => string.Join("; ", failures.Select(f => $"{f.Node}: {f.Reason}"));
}
