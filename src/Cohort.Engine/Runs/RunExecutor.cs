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
/// Drives one run round by round: configure → send tasks → collect results or failures as they arrive,
/// folding fit results into the strategy's aggregation → aggregate → evaluate → checkpoint.
/// </summary>
internal sealed class RunExecutor(
    INodePool pool, IStateStore store, IModelStore models, StrategyRegistry strategies,
    StrategyServices services, ILogger<RunExecutor> log)
{
    private readonly RunProgressBoard _progress = new();

    /// <summary>Latest progress of each running run, published by this executor only.</summary>
    public IRunProgress Progress => _progress;

    // Nodes that refused a run under their site policy, with the reason, per run. A site policy answers
    // the same for every task of a run, so such a node gets no more of the run's tasks.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, System.Collections.Concurrent.ConcurrentDictionary<string, string>> _refusals = new(StringComparer.Ordinal);

    /// <summary>Runs (or resumes) <paramref name="run"/> from <paramref name="startRound"/>; throws <see cref="RunFailedException"/> with the reason when it cannot finish.</summary>
    public async Task ExecuteAsync(RunRecord run, Plan plan, int startRound, CancellationToken ct)
    {
        var strategy = strategies.Create(plan.Strategy.Name, plan.Strategy.Parameters, services);
        try
        {
            await ExecuteAsync(run, plan, strategy, startRound, ct);
        }
        finally
        {
            // What it holds outside memory (FedOpt's moments file) goes with the run, also when the run stops early.
            (strategy as IDisposable)?.Dispose();
        }
    }

    // A run that failed or was stopped still gets its last model's flush; a flush that fails then is the operator's to know,
    // not the run's error (which is already another).
    private async Task FlushStoppedRunAsync(string runId)
    {
        try
        {
            await models.FlushAsync(runId);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            log.LogWarning("Run {Run}: flushing its last model to disk failed ({Error}); a power loss may take that round's model", runId, e.Message);
        }
    }

    /// <summary>Runs (or resumes) <paramref name="run"/> with a strategy built by the caller; the plan's personalisation and privacy still wrap it.</summary>
    public async Task ExecuteAsync(RunRecord run, Plan plan, IStrategy strategy, int startRound, CancellationToken ct)
    {
        bool flushed = false;
        try
        {
            await ExecuteRoundsAsync(run, plan, strategy, startRound, ct);
            // The last model's flush ran behind its round; the run is done once that model is on disk too.
            await models.FlushAsync(run.Id);
            flushed = true;
        }
        finally
        {
            _refusals.TryRemove(run.Id, out _);
            _progress.Clear(run.Id);
            if (!flushed) await FlushStoppedRunAsync(run.Id);
            // Finished, failed or stopped: no spare file waits in the run's folder for a next save (a resumed run makes new ones).
            await models.CloseRunAsync(run.Id);
        }
    }

    private async Task ExecuteRoundsAsync(RunRecord run, Plan plan, IStrategy strategy, int startRound, CancellationToken ct)
    {
        if (plan.Personalization.Enabled) strategy = new PersonalizedStrategy(strategy, plan.Personalization);
        if (plan.Privacy is { Local: false } privacy) strategy = new Privacy.DifferentialPrivacy(strategy, privacy);
        // Statistics come first: they decide the features (vocabularies), so even the initial model needs them.
        plan = await StatisticsStepAsync(run, plan, ct);
        var central = CentralEvaluatorFor(plan);
        ParameterSet global;
        if (startRound > 1)
        {
            // What the interrupted round had recorded is discarded: it runs again with the strategy's state as
            // it was after the last good round, folding in the fit results it had kept (FedBuff: its buffer).
            await store.DeleteRoundsAfterAsync(run.Id, startRound - 1, ct);
            int interrupted = startRound;
            var resume = await ResumePoint.RestoreAsync(run.Id, strategy.Name, plan.Asynchronous is null ? StateOf(strategy) : null, startRound, store, models, ct);
            (startRound, global) = (resume.Round + 1, resume.Global);
            // The fit results the interrupted round had received stay valid only if it reruns from the same
            // model and state; after a fallback to an earlier round they were trained from another model.
            await models.DiscardRoundResultsAsync(run.Id, startRound == interrupted ? startRound : -1, ct);
            // A run whose last round was done before the crash has none left to draw nodes for.
            if (startRound <= plan.Rounds) await WaitForReturningNodesAsync(run.Id, plan, startRound, ct);
        }
        else if (await SavedInitialModelAsync(run.Id, ct) is { } initial)
        {
            // Restarted before round 1 was done: the results kept for round 1 were trained from this model.
            global = initial;
            await store.DeleteRoundsAfterAsync(run.Id, 0, ct);
            await store.AddEventAsync(run.Id, "run.resumed", "resumed at round 1 from the saved initial model (round 0); strategy state starts fresh, as at the start of the run", ct);
            await WaitForReturningNodesAsync(run.Id, plan, 1, ct);
        }
        else
        {
            await models.DiscardRoundResultsAsync(run.Id, -1, ct);
            // Two statements, not `?? await`: the compiler keeps an awaited operand of a larger expression in a
            // field of this method's state for the whole run, and with it the initial model, a model's worth of memory.
            if (strategy.InitializeParameters() is { } given) global = given;
            else global = await InitialParametersFromNodeAsync(run, plan, ct);
            CheckLocalPatterns(plan, global);
            await models.SaveAsync(run.Id, 0, global, ct);
        }

        if (plan.Asynchronous is not null)
        {
            // A resumed buffer is refilled by whichever nodes come back first: wait for the plan's nodes so
            // that the rerun hands out its tasks as the uninterrupted run did.
            if (startRound > 1) await WaitForNodesAsync(run.Id, plan, startRound, ct);
            await new BufferedAsyncExecutor(pool, store, models, log).ExecuteAsync(run, plan, strategy, global, startRound, _progress.Publish, ct, central);
            return;
        }

        for (int round = startRound; round <= plan.Rounds; round++)
        {
            // A round starts on a fresh stack. When the last round's awaits all completed synchronously its
            // frame is still below this one, and its state (instructions, aggregation) holds the model before
            // last: a model's worth of memory that the collection before the new accumulator could not free.
            await Task.Yield();
            // The round's record and the run's count of rounds done are committed together.
            (global, run) = await RunRoundAsync(run, plan, strategy, central, global, round, ct);
            // Only now is the round's outcome safe without them.
            await models.DiscardRoundResultsAsync(run.Id, -1, ct);
        }
    }

    private async Task<(ParameterSet Global, RunRecord Run)> RunRoundAsync(RunRecord run, Plan plan, IStrategy strategy, CentralEvaluator? centralEvaluator, ParameterSet global, int round, CancellationToken ct)
    {
        // Node results are written behind the round, not in its way; each way out waits for them.
        var results = new NodeResultWriter(store);
        try
        {
            return await RunRoundAsync(run, plan, strategy, centralEvaluator, global, round, results, ct);
        }
        catch when (!results.FlushAsync().IsCompleted)
        {
            // A failed or stopped round still records the results it had, as before; the round's own error is the one reported.
            await results.FlushAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }
    }

    private async Task<(ParameterSet Global, RunRecord Run)> RunRoundAsync(RunRecord run, Plan plan, IStrategy strategy, CentralEvaluator? centralEvaluator, ParameterSet global, int round, NodeResultWriter results, CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        // Every log line of the round carries the run and round ids as fields (JSON logs) or a prefix.
        using var scope = log.BeginScope(LogScope.Round(round));
        var phases = new RoundPhaseTimer(RoundPhase.WaitForNodes);
        await WaitForNodesAsync(run.Id, plan, round, ct);
        phases.Switch(RoundPhase.Configure);
        var context = new RoundContext(run.Id, round, plan.Rounds, plan.Selection, plan.FitConfig(round), plan.EvaluateConfig(round), new Random(RoundSeed.Of(plan.Seed, round)));

        // Fit: a round below the plan's bar (min_fit, failure.min_completion_rate) is rerun up to
        // failure.retries times with a fresh sample, each retry first waiting for nodes as the round's start
        // does, then the run stops with the reason.
        var aggregationTime = new Stopwatch();
        // Fit results this round received before a server restart (none unless the run was resumed in it).
        var kept = await KeptResultsAsync(run.Id, round, ct);
        List<NodeFailure> failures;
        int fitOk;
        FitAggregate? aggregate = null;
        int updatesOnDisk = 0;
        int foldedOnArrival = 0;
        // Set once an attempt fell short: the next one is a retry, and says why it runs.
        RetryWait? retry = null;
        for (int attempt = 0; ; attempt++)
        {
            var attemptContext = attempt == 0 ? context : context with { Random = new Random(RoundSeed.OfRetry(plan.Seed, round, attempt)) };
            if (retry is not null)
            {
                // A retry waits for nodes as the round's start does: the node that dropped out (the usual reason
                // for a retry) may come back or be replaced within wait_for_nodes. Sampling without it would fail at once.
                phases.Switch(RoundPhase.WaitForNodes);
                try
                {
                    await WaitForNodesAsync(run.Id, plan, round, ct, retry: retry);
                }
                catch (RunFailedException e)
                {
                    throw await FailedRoundAsync(e.Message);
                }
            }
            phases.Switch(RoundPhase.Configure);
            var fitInstructions = strategy.ConfigureFit(attemptContext, global, Available(run.Id, plan));
            if (fitInstructions.Count < plan.Selection.MinFit)
            {
                string few = $"{fitInstructions.Count} nodes selected for fit, min_fit is {plan.Selection.MinFit}{RefusalNote(run.Id)}";
                if (retry is null) throw new RunFailedException($"round {round}: {few}");
                throw await FailedRoundAsync($"round {round}: retry {retry.Retry} of {retry.Retries}: {few}; the attempt before failed: {retry.EarlierReason}");
            }
            CrashPoint.Reach("configure", round);
            failures = [];
            fitOk = 0;
            // selection.accept_first: once that many usable results are in, the round's open fit tasks are withdrawn.
            using var close = new CancellationTokenSource();
            string closing = $"withdrawn: the round closed at the first {plan.Selection.AcceptFirst} of {fitInstructions.Count} fit results (selection.accept_first)";
            var withdrawn = new List<string>();
            using (var aggregation = strategy.BeginAggregateFit(attemptContext, global))
            {
                // A selected node whose result was kept is not asked again: its result is what it sent for this
                // same model and config. Aggregation does not depend on order, so the model comes out the same.
                var reused = fitInstructions.Where(i => kept.ContainsKey(i.Node)).ToArray();
                if (reused.Length > 0)
                {
                    var waiting = fitInstructions.Where(i => !kept.ContainsKey(i.Node)).Select(i => i.Node).ToArray();
                    await store.AddEventAsync(run.Id, "round.results_kept",
                        $"round {round}: {reused.Length} fit results received before the server restarted are kept ({string.Join(", ", reused.Select(i => i.Node))}); " +
                        (waiting.Length == 0 ? "no node is asked again" : $"waiting for {waiting.Length} ({string.Join(", ", waiting)})"), ct);
                    log.LogInformation("Run {Run} round {Round}: {Kept} fit results kept from before the restart, {Waiting} to wait for", run.Id, round, reused.Length, waiting.Length);
                    foreach (var i in reused) await FoldAsync(Placeholder(run, plan, round, i.Node), kept[i.Node].Outcome, keep: false);
                }
                kept.Clear();
                phases.Switch(RoundPhase.Fit);
                var asked = reused.Length == 0 ? fitInstructions : fitInstructions.Where(i => !reused.Contains(i)).ToArray();
                await foreach (var (task, outcome) in DispatchAsync(run, plan, round, TaskKind.Fit, asked, global, ct, close.Token, closing))
                {
                    if (close.IsCancellationRequested && outcome.Failure == FailureKind.Cancelled)
                    {
                        // Not a failure: the round no longer needed it. Its node's late result is refused as for a timed-out task.
                        withdrawn.Add(task.Node);
                        phases.Switch(RoundPhase.Persist);
                        await RecordAsync(task, outcome, outcome.Error, outcome.Failure, ct);
                    }
                    else
                    {
                        await FoldAsync(task, outcome, keep: true);
                    }
                    if (plan.Selection.AcceptFirst is { } first && fitOk >= first && !close.IsCancellationRequested) close.Cancel();
                    phases.Switch(RoundPhase.Fit);
                }
                if (withdrawn.Count > 0)
                {
                    phases.Switch(RoundPhase.Persist);
                    await store.AddEventAsync(run.Id, "round.closed_early", $"round {round}: closed at the first {fitOk} of {fitInstructions.Count} fit results (selection.accept_first {plan.Selection.AcceptFirst}); withdrawn, late results ignored: {string.Join(", ", withdrawn)}", ct);
                    log.LogInformation("Run {Run} round {Round}: closed at the first {Ok} of {Total} fit results; withdrawn: {Withdrawn}", run.Id, round, fitOk, fitInstructions.Count, string.Join(", ", withdrawn));
                }
                CrashPoint.Reach("aggregate", round);

                async Task FoldAsync(PendingTask task, TaskOutcome outcome, bool keep)
                {
                    string? error = outcome.Error;
                    var kind = outcome.Failure;
                    NoteRefusal(task, outcome);
                    if (outcome.Ok)
                    {
                        // A result received to disk (a large model) is folded from its spool file a block at a time and
                        // not kept: keeping it would read it into memory whole. After a restart its node trains the round again.
                        if (keep && outcome.Spooled is null)
                        {
                            // Kept before it is folded in: once the round's model exists, every result in it is on disk.
                            phases.Switch(RoundPhase.Persist);
                            await models.SaveRoundResultAsync(run.Id, round, task.Node, new KeptResult(task.Node, round - 1, outcome), ct);
                            CrashPoint.Reach("result", round);
                        }
                        try
                        {
                            phases.Switch(RoundPhase.Aggregate);
                            aggregationTime.Start();
                            AddFitResult(aggregation, task.Node, outcome);
                            fitOk++;
                        }
                        catch (AggregationException e)
                        {
                            error = e.Message;
                            kind = FailureKind.Rejected;
                        }
                        finally
                        {
                            aggregationTime.Stop();
                        }
                    }
                    if (error is not null) failures.Add(new NodeFailure(task.Node, error));
                    phases.Switch(RoundPhase.Persist);
                    Record(results, task, outcome, error, kind);
                }
                double rate = (double)fitOk / (fitInstructions.Count - withdrawn.Count);
                string? shortfall = fitOk < plan.Selection.MinFit
                    ? $"{fitOk} of {fitInstructions.Count} fit results usable, min_fit is {plan.Selection.MinFit}"
                    : rate < plan.Failure.MinCompletionRate
                        ? $"{fitOk} of {fitInstructions.Count} fit results usable ({rate * 100:0.#}%), failure.min_completion_rate is {plan.Failure.MinCompletionRate * 100:0.#}%"
                        : null;
                if (shortfall is null)
                {
                    phases.Switch(RoundPhase.Aggregate);
                    aggregationTime.Start();
                    try
                    {
                        aggregate = aggregation.Complete(failures);
                        updatesOnDisk = aggregation is BufferedAggregation held ? held.OnDisk : 0;
                        foldedOnArrival = aggregation is ISpooledFitAggregation spooled ? spooled.FoldedOnArrival : 0;
                    }
                    catch (AggregationException e)
                    {
                        // The plan's settings cannot work with the results at hand (e.g. Krum's f against too few results): the run's failure, not Cohort's.
                        throw new RunFailedException($"round {round}: {e.Message} (from {fitOk} usable fit results; check strategy.params and selection.min_fit)");
                    }
                    aggregationTime.Stop();
                    break;
                }
                phases.Switch(RoundPhase.Persist);
                if (attempt < plan.Failure.Retries)
                {
                    await store.AddEventAsync(run.Id, "round.retry", $"round {round}, attempt {attempt + 1}: {shortfall}; failures: {Describe(failures)}; retrying ({plan.Failure.Retries - attempt} retries left)", ct);
                    log.LogWarning("Run {Run} round {Round}: {Shortfall}; retrying", run.Id, round, shortfall);
                    retry = new RetryWait(attempt + 1, plan.Failure.Retries, $"{shortfall}; failures: {Describe(failures)}");
                    continue;
                }
                throw await FailedRoundAsync($"round {round}: {shortfall}{(plan.Failure.Retries > 0 ? $" after {plan.Failure.Retries} retries" : "")}; failures: {Describe(failures)}");
            }
        }

        // The round as failed, with the node results it had, then the run's error to throw.
        async Task<RunFailedException> FailedRoundAsync(string reason)
        {
            await results.FlushAsync();
            await SaveFailedRoundAsync(run.Id, round, started, reason, phases.ToMetrics(), ct);
            return new RunFailedException(reason);
        }

        global = aggregate!.Parameters;
        // The model is written while evaluation runs; the round is declared done only once it is in place (a crash of the
        // process keeps it). A small one is flushed to disk behind the round, before the run's next save (ModelStore).
        // The strategy's state goes with it, so a resumed run continues exactly where this one was.
        var savedModel = global;
        var checkpoint = StateOf(strategy)?.Save();
        var saving = Task.Run(async () =>
        {
            await models.SaveAsync(run.Id, round, savedModel, ct);
            CrashPoint.Reach("checkpoint", round);
            if (checkpoint is not null)
            {
                await models.SaveCheckpointAsync(run.Id, round, checkpoint, ct);
                // Written to its file: the strategy may now change the buffers it shares with it (FedAvgM's velocity) without a copy.
                checkpoint.MarkWritten();
            }
        }, ct);
        EvaluateAggregate? evaluation;
        List<NodeFailure> evalFailures;
        EvaluateResult? central;
        try
        {
            phases.Switch(RoundPhase.Persist);
            if (updatesOnDisk > 0)
                await store.AddEventAsync(run.Id, "round.updates_on_disk", $"round {round}: {strategy.Name} kept {updatesOnDisk} of {fitOk} updates on disk past the server's update memory budget and read them a chunk at a time", ct);
            if (foldedOnArrival > 0)
                await store.AddEventAsync(run.Id, "round.spool_hold_full", $"round {round}: {strategy.Name} folded {foldedOnArrival} of {fitOk} results as they arrived: holding them to the end of the round would have passed the server's --spool-hold-mb, so the whole accumulator (twice the model) was in memory", ct);
            if (failures.Count > 0)
                await store.AddEventAsync(run.Id, "round.failures", $"round {round}: aggregated {fitOk} fit results; failures: {Describe(failures)}", ct);

            // Evaluate.
            phases.Switch(RoundPhase.Configure);
            var evalInstructions = strategy.ConfigureEvaluate(context, global, Available(run.Id, plan));
            var evalResults = new List<NodeResult<EvaluateResult>>();
            evalFailures = [];
            if (evalInstructions.Count > 0)
            {
                phases.Switch(RoundPhase.Evaluate);
                await foreach (var (task, outcome) in DispatchAsync(run, plan, round, TaskKind.Evaluate, evalInstructions, null, ct))
                {
                    NoteRefusal(task, outcome);
                    if (outcome.Ok) evalResults.Add(new NodeResult<EvaluateResult>(task.Node, new EvaluateResult(outcome.Loss, outcome.Examples, outcome.Metrics)));
                    else evalFailures.Add(new NodeFailure(task.Node, outcome.Error!));
                    phases.Switch(RoundPhase.Persist);
                    Record(results, task, outcome, outcome.Error, outcome.Failure);
                    phases.Switch(RoundPhase.Evaluate);
                }
            }
            CrashPoint.Reach("evaluate", round);
            phases.Switch(RoundPhase.EvaluateAggregate);
            evaluation = evalResults.Count > 0 ? strategy.AggregateEvaluate(context, evalResults, evalFailures) : null;
            phases.Switch(RoundPhase.Persist);
            if (evalInstructions.Count > 0 && evalResults.Count < plan.Selection.MinEvaluate)
                await store.AddEventAsync(run.Id, "round.evaluate_short", $"round {round}: {evalResults.Count} evaluation results, min_evaluate is {plan.Selection.MinEvaluate}; failures: {Describe(evalFailures)}", ct);
            phases.Switch(RoundPhase.CentralEvaluate);
            central = centralEvaluator is not null ? await centralEvaluator(round, global, ct) : await strategy.EvaluateCentralAsync(context, global, ct);
            phases.Switch(RoundPhase.SaveModel);
            await saving;
        }
        catch when (!saving.IsCompleted)
        {
            // Not left writing behind a failed round: a resumed run may read this folder next.
            await saving.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }

        phases.Switch(RoundPhase.Persist);
        // The round record comes after its node results: a round found done has all of them. Those the writer still holds
        // are committed with it.
        var unwritten = await results.TakeHeldAsync();
        var spent = phases.ToMetrics();
        RunRecord? stored;
        try
        {
            stored = await store.CompleteRoundAsync(new RoundRecord(
                run.Id, round, RoundStatus.Done, started, DateTimeOffset.UtcNow, aggregationTime.Elapsed.TotalSeconds,
                evaluation?.Loss, evaluation?.Metrics ?? Metrics.Empty, aggregate.Metrics,
                central?.Loss, central?.Metrics ?? Metrics.Empty, failures.Count + evalFailures.Count > 0 ? Describe(failures.Concat(evalFailures)) : null, spent), unwritten, ct);
        }
        catch
        {
            // Not committed (the run stopped, the store refused): the results go back to the writer, which the way out flushes.
            results.Requeue(unwritten);
            throw;
        }
        if (stored is null) throw new RunFailedException($"round {round}: run '{run.Id}' is no longer in the state store");
        log.LogInformation("Run {Run} round {Round}: {Ok}/{Total} fit results, loss {Loss:F4}", run.Id, round, fitOk, fitOk + failures.Count, evaluation?.Loss ?? double.NaN);
        return (global, stored);
    }

    /// <summary>
    /// Sends one task per instruction and yields outcomes in arrival order. Tasks with no answer when the
    /// round timeout passes fail as timed out; stopping the run fails them as stopped.
    /// </summary>
    private async IAsyncEnumerable<(PendingTask Task, TaskOutcome Outcome)> DispatchAsync(
        RunRecord run, Plan plan, int round, TaskKind kind, IReadOnlyList<NodeInstruction> instructions, ParameterSet? expected,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct, CancellationToken close = default, string? closing = null)
    {
        var terms = RunTerms.Of(plan, run.Submitter);
        var tasks = instructions.Select(i => new PendingTask
        {
            Id = $"{run.Id}-r{round}-{(kind == TaskKind.Fit ? "fit" : "eval")}-{i.Node}-{Guid.NewGuid().ToString("N")[..8]}",
            Node = i.Node,
            RunId = run.Id,
            Round = round,
            Kind = kind,
            App = plan.App.Name,
            AppSettings = plan.App.Settings,
            Dataset = plan.Dataset,
            Config = i.Config,
            Settings = plan.TaskSettings,
            Terms = terms,
            Parameters = i.Parameters,
            // A strategy may expect more (SCAFFOLD) or less (personal layers) than the model back.
            Expected = kind == TaskKind.Fit ? i.ExpectedResult ?? expected : expected,
            Limits = plan.Failure.Limits,
            Timeout = plan.RoundTimeout,
            OfflineGrace = plan.Failure.OfflineGrace,
        }).ToArray();
        var phase = kind == TaskKind.Fit ? ProgressPhase.Fit : ProgressPhase.Evaluate;
        _progress.Publish(new RoundProgress(run.Id, round, phase, tasks.Length, 0));
        var pending = tasks.ToDictionary(t => (Task)pool.Submit(t), t => t);
        using var timeout = new CancellationTokenSource(plan.RoundTimeout);
        using var onTimeout = timeout.Token.Register(() =>
        {
            foreach (var t in tasks) pool.Fail(t, FailureKind.Timeout, $"no result within the round timeout of {plan.RoundTimeout.TotalSeconds:0.#}s");
        });
        using var onStop = ct.Register(() =>
        {
            foreach (var t in tasks) pool.Fail(t, FailureKind.Stopped, "run stopped");
        });
        // The caller closes the round early (selection.accept_first): tasks still open are withdrawn; those done keep their outcome.
        using var onClose = close.Register(() =>
        {
            foreach (var t in tasks) pool.Fail(t, FailureKind.Cancelled, closing ?? "withdrawn");
        });
        int received = 0;
        await foreach (var done in Task.WhenEach(pending.Keys))
        {
            var task = pending[done];
            received++;
            _progress.Publish(new RoundProgress(run.Id, round, phase, tasks.Length, received));
            yield return (task, await task.Completion.Task);
        }
        ct.ThrowIfCancellationRequested();
    }

    /// <summary>
    /// The federated statistics step, when the plan's app asks for it: every available node describes
    /// its training data, the app's server side combines the descriptions into settings, and the plan
    /// returned carries them in its app settings, so every later task (and a resumed run, which reads
    /// them back instead of asking again) preprocesses alike. The nodes' individual statistics are not
    /// stored; only the combined settings are, beside the run's models.
    /// </summary>
    private async Task<Plan> StatisticsStepAsync(RunRecord run, Plan plan, CancellationToken ct)
    {
        var app = ServerAppFor(plan);
        if (app is null || !app.NeedsStatistics(plan)) return plan;
        var settings = await models.LoadStatisticsAsync(run.Id, ct);
        if (settings is null)
        {
            await WaitForNodesAsync(run.Id, plan, 0, ct);
            var nodes = Available(run.Id, plan);
            var tasks = nodes.Select(node => new PendingTask
            {
                Id = $"{run.Id}-r0-stats-{node}-{Guid.NewGuid().ToString("N")[..8]}",
                Node = node,
                RunId = run.Id,
                Round = 0,
                Kind = TaskKind.Statistics,
                App = plan.App.Name,
                AppSettings = plan.App.Settings,
                Dataset = plan.Dataset,
                Terms = RunTerms.Of(plan, run.Submitter),
                Config = plan.FitConfig(1),
                Settings = plan.TaskSettings,
                Limits = plan.Failure.Limits,
                Timeout = plan.RoundTimeout,
                OfflineGrace = plan.Failure.OfflineGrace,
            }).ToArray();
            _progress.Publish(new RoundProgress(run.Id, 0, ProgressPhase.Statistics, tasks.Length, 0));
            using var timeout = new CancellationTokenSource(plan.RoundTimeout);
            using var onTimeout = timeout.Token.Register(() =>
            {
                foreach (var t in tasks) pool.Fail(t, FailureKind.Timeout, $"no statistics within the round timeout of {plan.RoundTimeout.TotalSeconds:0.#}s");
            });
            using var onStop = ct.Register(() =>
            {
                foreach (var t in tasks) pool.Fail(t, FailureKind.Stopped, "run stopped");
            });
            var outcomes = await Task.WhenAll(tasks.Select(t => pool.Submit(t)));
            ct.ThrowIfCancellationRequested();
            var answers = new List<NodeStatistics>();
            var failures = new List<NodeFailure>();
            for (int i = 0; i < tasks.Length; i++)
            {
                var outcome = outcomes[i];
                // Recorded without the statistics themselves: the server keeps only what it combines them into.
                await RecordAsync(tasks[i], outcome with { Metrics = Metrics.Empty }, outcome.Error, outcome.Failure, ct);
                NoteRefusal(tasks[i], outcome);
                if (outcome.Ok) answers.Add(new NodeStatistics(tasks[i].Node, outcome.Examples, outcome.Metrics));
                // A site that refuses the run under its policy takes no part in it, its statistics included.
                else if (outcome.Failure != FailureKind.SitePolicy) failures.Add(new NodeFailure(tasks[i].Node, outcome.Error!));
            }
            // Statistics from only some nodes would give the others preprocessing they had no part in.
            if (failures.Count > 0) throw new RunFailedException($"statistics step: {Describe(failures)}");
            if (answers.Count == 0) throw new RunFailedException($"statistics step: no node answered{RefusalNote(run.Id)}");
            try
            {
                settings = app.AggregateStatistics(plan, answers);
            }
            catch (InvalidDataException e)
            {
                throw new RunFailedException($"statistics step: {e.Message}");
            }
            await models.SaveStatisticsAsync(run.Id, settings, ct);
            await store.AddEventAsync(run.Id, "run.statistics",
                $"statistics from {answers.Count} nodes ({string.Join(", ", answers.Select(a => a.Node))}): {answers.Sum(a => a.Examples)} training rows", ct);
        }
        return plan with { App = plan.App with { Settings = plan.App.Settings.With(settings) } };
    }

    private IServerApp? ServerAppFor(Plan plan) =>
        services.ServerApps.FirstOrDefault(a => string.Equals(a.Name, plan.App.Name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The evaluation of the plan's <c>central_evaluation</c> file (or what the app's server side evaluates by itself), or null for the strategy's own.</summary>
    private CentralEvaluator? CentralEvaluatorFor(Plan plan)
    {
        var app = ServerAppFor(plan);
        if (app is null)
        {
            return plan.CentralEvaluation is null
                ? null
                : throw new RunFailedException($"central_evaluation: this server has no central evaluation for app '{plan.App.Name}'");
        }
        try
        {
            return app.CreateCentralEvaluator(plan);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or ArgumentException)
        {
            throw new RunFailedException($"central_evaluation: {e.Message}");
        }
    }

    // A large result received to disk is folded from there by strategies that can (sum-based ones), a block at a time,
    // now or when the round completes; strategies that need every update keep it in its file past their memory budget.
    // Either way the aggregation then owns the file: disposing it (the round's `using`) deletes what it still holds.
    private static void AddFitResult(IFitAggregation aggregation, string node, TaskOutcome outcome)
    {
        if (outcome.Spooled is { } kept && aggregation is ISpillingFitAggregation holding)
        {
            holding.Hold(node, kept, outcome.Examples, outcome.Metrics);
            return;
        }
        if (outcome.Spooled is { } spooled && aggregation is ISpooledFitAggregation streaming)
        {
            streaming.Add(node, spooled, outcome.Examples, outcome.Metrics);
            return;
        }
        aggregation.Add(node, new FitResult(outcome.LoadParameters()!, outcome.Examples, outcome.Metrics));
    }

    // A personalization pattern that matches none of the model's tensors keeps nothing local: a slip the run would otherwise never show.
    private static void CheckLocalPatterns(Plan plan, ParameterSet model)
    {
        var unmatched = plan.Personalization.Local.Where(p => !model.Any(t => LocalParameterPattern.Matches(p, t.Name))).ToArray();
        if (unmatched.Length == 0) return;
        var names = model.Select(t => t.Name).ToArray();
        string shown = names.Length <= 12 ? string.Join(", ", names) : $"{string.Join(", ", names.Take(12))} and {names.Length - 12} more";
        throw new RunFailedException($"personalization.local: {string.Join(", ", unmatched.Select(p => $"'{p}'"))} matches none of the model's tensors ({shown})" +
            $"{NearestName.Hint(unmatched[0], names)}, so nothing would stay local");
    }

    private async Task<ParameterSet> InitialParametersFromNodeAsync(RunRecord run, Plan plan, CancellationToken ct)
    {
        // The run needs min_available nodes to start at all: wait for them here, not for just the one asked.
        await WaitForNodesAsync(run.Id, plan, 0, ct, minimum: 1);
        var reasons = new List<string>();
        foreach (var node in Available(run.Id, plan))
        {
            var task = new PendingTask
            {
                Id = $"{run.Id}-r0-init-{node}-{Guid.NewGuid().ToString("N")[..8]}",
                Node = node,
                RunId = run.Id,
                Round = 0,
                Kind = TaskKind.GetParameters,
                App = plan.App.Name,
                AppSettings = plan.App.Settings,
                Dataset = plan.Dataset,
                Config = plan.FitConfig(1),
                Settings = plan.TaskSettings,
                Terms = RunTerms.Of(plan, run.Submitter),
                Timeout = plan.RoundTimeout,
                OfflineGrace = plan.Failure.OfflineGrace,
            };
            using var timeout = new CancellationTokenSource(plan.RoundTimeout);
            using var onTimeout = timeout.Token.Register(() => pool.Fail(task, FailureKind.Timeout, "no answer within the round timeout"));
            using var onStop = ct.Register(() => pool.Fail(task, FailureKind.Stopped, "run stopped"));
            var outcome = await pool.Submit(task);
            ct.ThrowIfCancellationRequested();
            NoteRefusal(task, outcome);
            if (outcome.Ok && outcome.Parameters is { Count: > 0 } p)
            {
                await store.AddEventAsync(run.Id, "run.initialized", $"initial parameters from node '{node}' ({p.Count} tensors, {p.ElementCount} values)", ct);
                return p;
            }
            reasons.Add($"{node}: {outcome.Error ?? "no parameters"}");
        }
        throw new RunFailedException($"no node could provide initial parameters: {string.Join("; ", reasons)}");
    }

    /// <summary>
    /// Waits until the plan's <c>min_available</c> eligible nodes are connected (before a round and each <paramref name="retry"/>,
    /// also <c>min_fit</c>). While it waits, the reason (with
    /// the counts) is in <see cref="Progress"/> and in a <c>run.waiting</c> event each time the count changes; a
    /// waiting run holds no node, so other runs go on. Gives up after <c>wait_for_nodes</c> with the same reason.
    /// </summary>
    private async Task WaitForNodesAsync(string runId, Plan plan, int round, CancellationToken ct, int minimum = 0, RetryWait? retry = null)
    {
        // A round (and each retry) waits for what it will sample; before round 1, for min_available. The plan's own
        // setting is quoted whenever it is what the run waits for.
        var (wanted, wantedName) = round > 0 ? plan.Selection.RoundStart : (plan.Selection.MinAvailable, "min_available");
        if (minimum > wanted) (wanted, wantedName) = (minimum, "needed");
        if (Available(runId, plan).Count >= wanted) return;
        string stage = round == 0 ? "before round 1" : retry is null ? $"round {round}" : $"round {round}, retry {retry.Retry} of {retry.Retries}";
        var started = DateTimeOffset.UtcNow;
        var deadline = started + plan.WaitForNodes;
        int announced = -1;
        bool ready = await UntilPoolAsync(() => Available(runId, plan).Count >= wanted, deadline, async () =>
        {
            int count = Available(runId, plan).Count;
            string reason = NodeSelection.WaitingReason(runId, plan, pool, wanted, wantedName, Refused(runId)) + RefusalNote(runId);
            _progress.Publish(new RoundProgress(runId, round, ProgressPhase.WaitingForNodes, wanted, count) { WaitingReason = reason });
            if (count == announced) return;
            log.LogInformation("Run {Run} {Stage}: {Reason}", runId, stage, reason);
            await store.AddEventAsync(runId, "run.waiting", $"{stage}: {reason}", ct);
            announced = count;
        }, ct);
        if (!ready)
        {
            string shortage = NodeSelection.Shortage(runId, plan, pool, wanted, wantedName, Refused(runId)) + RefusalNote(runId);
            throw new RunFailedException(retry is null
                ? $"{stage}: still too few nodes after wait_for_nodes ({plan.WaitForNodes.TotalSeconds:0.#}s): {shortage}"
                : $"round {round}: retry {retry.Retry} of {retry.Retries} waited {plan.WaitForNodes.TotalSeconds:0.#}s (wait_for_nodes) for {wanted} nodes: {shortage}; the attempt before failed: {retry.EarlierReason}");
        }
        _progress.Publish(new RoundProgress(runId, round, ProgressPhase.Starting, wanted, Available(runId, plan).Count));
        await store.AddEventAsync(runId, "run.nodes_ready",
            $"{stage}: {Available(runId, plan).Count} nodes connected, {wanted} needed ({wantedName}), after waiting {(DateTimeOffset.UtcNow - started).TotalSeconds:0.#}s", ct);
    }

    /// <summary>The longest a resumed run waits for the nodes connected before the restart (less when <c>wait_for_nodes</c> is).</summary>
    internal static readonly TimeSpan ReturnWait = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Before a resumed run's first round: waits, up to <c>wait_for_nodes</c> or <see cref="ReturnWait"/> if shorter, for the nodes of its app that were connected
    /// when the server stopped or crashed. A round draws its nodes from those connected, by its seed; resumed as soon as
    /// <c>min_available</c> of them are back, its rounds would draw from fewer than the uninterrupted run did and end with
    /// another model. Those not back by then are named in a <c>run.resumed_short</c> event and the run goes on without them.
    /// </summary>
    private async Task WaitForReturningNodesAsync(string runId, Plan plan, int round, CancellationToken ct)
    {
        var missing = plan.Selection.Allowed(pool.NotYetBack(plan.App.Name));
        if (missing.Count == 0) return;
        int expected = missing.Count;
        var started = DateTimeOffset.UtcNow;
        // A live node reconnects within its backoff (at most 10 s) of the server's start; one not back within a minute is
        // most likely gone for longer, and the run should not wait all of a long wait_for_nodes for it.
        var wait = plan.WaitForNodes < ReturnWait ? plan.WaitForNodes : ReturnWait;
        var deadline = started + wait;
        string stage = $"resumed at round {round}";
        await store.AddEventAsync(runId, "run.waiting",
            $"{stage}: waiting up to {wait.TotalSeconds:0.#}s for the {missing.Count} node(s) connected before the restart " +
            $"and not back yet ({string.Join(", ", missing)}), so that its rounds draw their nodes from the same ones as before", ct);
        bool back = await UntilPoolAsync(() => (missing = plan.Selection.Allowed(pool.NotYetBack(plan.App.Name))).Count == 0, deadline, () =>
        {
            _progress.Publish(new RoundProgress(runId, round, ProgressPhase.WaitingForNodes, expected, expected - missing.Count)
            {
                WaitingReason = $"{NodeSelection.Waiting}{expected - missing.Count} of the {expected} connected before the restart are back; not yet {string.Join(", ", missing)}",
            });
            return Task.CompletedTask;
        }, ct);
        if (back)
        {
            await store.AddEventAsync(runId, "run.nodes_ready", $"{stage}: every node connected before the restart is back after {(DateTimeOffset.UtcNow - started).TotalSeconds:0.#}s", ct);
            return;
        }
        string reason = $"{stage} without {string.Join(", ", missing)}, connected before the restart and not back after " +
            $"{wait.TotalSeconds:0.#}s: its rounds draw their nodes from fewer than before, so its model may differ from an uninterrupted run's";
        log.LogWarning("Run {Run} {Reason}", runId, reason);
        await store.AddEventAsync(runId, "run.resumed_short", reason, ct);
    }

    /// <summary>
    /// Waits until <paramref name="ready"/> holds (true) or <paramref name="deadline"/> passes (false), calling
    /// <paramref name="waiting"/> each time it finds the pool not ready and waking each time the pool's nodes change.
    /// </summary>
    private async Task<bool> UntilPoolAsync(Func<bool> ready, DateTimeOffset deadline, Func<Task> waiting, CancellationToken ct)
    {
        while (true)
        {
            // Taken before the check, so a node that connects in between still wakes the wait below.
            var changed = pool.AvailabilityChanged;
            if (ready()) return true;
            if (DateTimeOffset.UtcNow >= deadline) return false;
            await waiting();
            await UntilChangedAsync(changed, deadline, ct);
        }
    }

    /// <summary>A round's retry: which of the plan's <c>failure.retries</c> it is, and why the attempt before it fell short.</summary>
    private sealed record RetryWait(int Retry, int Retries, string EarlierReason);

    /// <summary>The initial model of a run restarted before its first round was done, or null (none saved, or not intact).</summary>
    private async Task<ParameterSet?> SavedInitialModelAsync(string runId, CancellationToken ct)
    {
        try
        {
            return await models.LoadAsync(runId, 0, ct);
        }
        catch (InvalidDataException e)
        {
            log.LogWarning("Run {Run}: the saved initial model is not intact ({Reason}); starting afresh", runId, e.Message);
            return null;
        }
    }

    // A personalised strategy passes its inner strategy's state through; over a stateless one it has none to save.
    private static IStatefulStrategy? StateOf(IStrategy strategy) =>
        strategy is PersonalizedStrategy { KeepsState: false } ? null : strategy as IStatefulStrategy;

    /// <summary>The fit results kept for <paramref name="round"/> by node; a kept file that cannot be read is noted in an event and its node asked again.</summary>
    private async Task<Dictionary<string, KeptResult>> KeptResultsAsync(string runId, int round, CancellationToken ct)
    {
        var (results, problems) = await models.LoadRoundResultsAsync(runId, round, ct);
        if (problems.Count > 0)
            await store.AddEventAsync(runId, "round.kept_result_unreadable", $"round {round}: {string.Join("; ", problems)}; those nodes train again", ct);
        var byNode = new Dictionary<string, KeptResult>(StringComparer.Ordinal);
        foreach (var r in results) byNode[r.Node] = r;
        return byNode;
    }

    // Stands for the task a kept result answered, which went with the server that received it.
    private static PendingTask Placeholder(RunRecord run, Plan plan, int round, string node) => new()
    {
        Id = $"{run.Id}-r{round}-fit-{node}-kept",
        Node = node,
        RunId = run.Id,
        Round = round,
        Kind = TaskKind.Fit,
        App = plan.App.Name,
        AppSettings = plan.App.Settings,
        Config = Config.Empty,
        Timeout = plan.RoundTimeout,
    };

    /// <summary>Waits for a change in the nodes available, or until <paramref name="deadline"/>, whichever is first.</summary>
    private static async Task UntilChangedAsync(Task changed, DateTimeOffset deadline, CancellationToken ct)
    {
        var left = deadline - DateTimeOffset.UtcNow;
        if (left <= TimeSpan.Zero) return;
        try
        {
            // Task.WaitAsync takes at most ~49 days; a longer wait_for_nodes simply goes round again.
            await changed.WaitAsync(left < TimeSpan.FromDays(1) ? left : TimeSpan.FromDays(1), ct);
        }
        catch (TimeoutException)
        {
            // The caller checks the deadline.
        }
    }

    private void Record(NodeResultWriter results, PendingTask task, TaskOutcome outcome, string? error, FailureKind? kind) =>
        results.Add(ResultRecord(task, outcome, error, kind));

    private Task RecordAsync(PendingTask task, TaskOutcome outcome, string? error, FailureKind? kind, CancellationToken ct) =>
        store.AddNodeResultAsync(ResultRecord(task, outcome, error, kind), ct);

    // Logs the outcome and gives the record the state store keeps of it.
    private NodeResultRecord ResultRecord(PendingTask task, TaskOutcome outcome, string? error, FailureKind? kind)
    {
        using (log.BeginScope(LogScope.Node(task.Node)))
        {
            if (error is null) log.LogDebug("Node {Node} {Phase} result: {Examples} examples in {Duration:F3}s", task.Node, task.Phase, outcome.Examples, outcome.DurationSeconds);
            else if (outcome.Fault is { } fault) log.LogError(fault, "Node {Node} {Phase} failed inside Cohort (a defect, not the node's): {Reason}", task.Node, task.Phase, error);
            else if (kind == FailureKind.Cancelled) log.LogInformation("Node {Node} {Phase} withdrawn: {Reason}", task.Node, task.Phase, error);
            else log.LogWarning("Node {Node} {Phase} failed: {Reason}", task.Node, task.Phase, error);
        }
        return new NodeResultRecord(
            task.RunId, task.Round, task.Node, task.Phase, error is null, error, outcome.Examples,
            double.IsFinite(outcome.Loss) ? outcome.Loss : null, outcome.Metrics, outcome.DurationSeconds, outcome.UploadBytes, DateTimeOffset.UtcNow,
            error is null ? null : kind ?? FailureKind.Other);
    }

    private Task SaveFailedRoundAsync(string runId, int round, DateTimeOffset started, string reason, Metrics phases, CancellationToken ct) =>
        store.SaveRoundAsync(new RoundRecord(runId, round, RoundStatus.Failed, started, DateTimeOffset.UtcNow, 0, null, Metrics.Empty, Metrics.Empty, null, Metrics.Empty, reason, phases), ct);

    // Nodes that failed for the same reason share one entry ("a, b, c: reason"): one app's error on every node is said
    // once, not once per node. Ordered by node name, not by arrival, so that the same failures read the same every time.
    private static string Describe(IEnumerable<NodeFailure> failures)
    {
        var text = string.Join("; ", failures.OrderBy(f => f.Node, StringComparer.Ordinal).GroupBy(f => f.Reason, StringComparer.Ordinal)
            .Select(g => $"{string.Join(", ", g.Select(f => f.Node))}: {g.Key}"));
        return text.Length == 0 ? "none" : text;
    }

    /// <summary>
    /// The nodes this run may use now (<see cref="NodeSelection.Eligible"/>), less those that refused the run
    /// under their site policy.
    /// </summary>
    private IReadOnlyList<string> Available(string runId, Plan plan)
    {
        var nodes = NodeSelection.Eligible(plan, pool);
        return _refusals.TryGetValue(runId, out var refused) && !refused.IsEmpty ? nodes.Where(n => !refused.ContainsKey(n)).ToArray() : nodes;
    }

    private void NoteRefusal(PendingTask task, TaskOutcome outcome)
    {
        if (outcome.Failure == FailureKind.SitePolicy)
            _refusals.GetOrAdd(task.RunId, _ => new(StringComparer.Ordinal)).TryAdd(task.Node, outcome.Error ?? "refused by site policy");
    }

    private IReadOnlyCollection<string>? Refused(string runId) =>
        _refusals.TryGetValue(runId, out var refused) && !refused.IsEmpty ? [.. refused.Keys] : null;

    // Why nodes that are online do not count: their sites refused the run.
    private string RefusalNote(string runId) =>
        _refusals.TryGetValue(runId, out var refused) && !refused.IsEmpty
            ? $"; not counted: {string.Join("; ", refused.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key}: {r.Value}"))}"
            : "";
}
