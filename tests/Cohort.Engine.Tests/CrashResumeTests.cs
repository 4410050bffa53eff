using Cohort.Apps;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;
using Microsoft.Extensions.Logging.Abstractions;
using Tensor = Cohort.Parameters.Tensor;

namespace Cohort.Engine.Tests;

/// <summary>
/// A run stopped mid-round (as by a crash) and resumed by a new executor on the same stores ends with
/// the same model, bit for bit, as a run that was never interrupted — stateful strategies included.
/// </summary>
public sealed class CrashResumeTests : IDisposable
{
    private const int Nodes = 3;
    private const int Rounds = 6;
    private const int CrashInRound = 4;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-resume-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private static Plan Parse(string strategy) => PlanParser.Parse($$"""
        name: resume
        app: { name: drift }
        strategy: {{strategy}}
        rounds: {{Rounds}}
        selection: { min_available: {{Nodes}}, min_fit: {{Nodes}}, fraction_fit: 1.0, fraction_evaluate: 0.0 }
        round_timeout: 30s
        wait_for_nodes: 5s
        seed: 11
        """, "resume.yaml", StrategyRegistry.CreateDefault());

    private static InProcessNodePool Pool(CrashSwitch? crash = null) => new("drift",
        Enumerable.Range(1, Nodes).ToDictionary(i => $"n{i}", i => (IClientApp)new DriftApp(0.1f * i, crash)),
        new InProcessPoolOptions { Delivery = DeliveryOrder.Submission });

    private static RunExecutor Executor(INodePool pool, IStateStore store, IModelStore models, StrategyServices? services = null) =>
        new(pool, store, models, StrategyRegistry.CreateDefault(), services ?? StrategyServices.None, NullLogger<RunExecutor>.Instance);

    private static async Task<RunRecord> NewRunAsync(Plan plan, IStateStore store)
    {
        var run = new RunRecord($"run-{Guid.NewGuid():N}"[..16], plan.Name, plan.Name, plan.App.Name, plan.Strategy.Name,
            RunStatus.Running, plan.Rounds, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);
        await store.SaveRunAsync(run, CancellationToken.None);
        return run;
    }

    private static byte[] Bytes(ParameterSet set)
    {
        using var buffer = new MemoryStream();
        ParameterSetFile.WriteAsync(buffer, set).GetAwaiter().GetResult();
        return buffer.ToArray();
    }

    private static async Task<byte[]> UninterruptedAsync(Plan plan)
    {
        var store = new InMemoryStateStore();
        var models = new InMemoryModelStore();
        var run = await NewRunAsync(plan, store);
        await Executor(Pool(), store, models).ExecuteAsync(run, plan, 1, CancellationToken.None);
        return Bytes((await models.LoadAsync(run.Id, Rounds, CancellationToken.None))!);
    }

    /// <summary>Runs until a node is asked for its first fit of round <see cref="CrashInRound"/>, which stops the executor mid-round.</summary>
    private static async Task<RunRecord> CrashAsync(Plan plan, IStateStore store, IModelStore models, StrategyServices? services = null)
    {
        var run = await NewRunAsync(plan, store);
        using var stop = new CancellationTokenSource();
        var crash = new CrashSwitch((CrashInRound - 1) * Nodes, stop);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Executor(Pool(crash), store, models, services).ExecuteAsync(run, plan, 1, stop.Token));
        run = (await store.GetRunAsync(run.Id, CancellationToken.None))!;
        Assert.Equal(CrashInRound - 1, run.RoundsDone);
        return run;
    }

    /// <summary>What the server does at start: a new executor (and strategy) continuing after the rounds recorded done.</summary>
    private static async Task<byte[]> ResumeAsync(Plan plan, RunRecord run, IStateStore store, IModelStore models, StrategyServices? services = null)
    {
        await Executor(Pool(), store, models, services).ExecuteAsync(run, plan, run.RoundsDone + 1, CancellationToken.None);
        return Bytes((await models.LoadAsync(run.Id, Rounds, CancellationToken.None))!);
    }

    private static async Task<string[]> EventsAsync(IStateStore store, string runId, string kind) =>
        (await store.ListEventsAsync(runId, CancellationToken.None)).Where(e => e.Kind == kind).Select(e => e.Message).ToArray();

    [Theory]
    [InlineData("{ name: fedadam, params: { server_learning_rate: 0.05 } }")]
    [InlineData("{ name: fedavgm, params: { server_momentum: 0.9 } }")]
    [InlineData("{ name: scaffold }")]
    public async Task A_run_resumed_after_a_crash_ends_with_the_uninterrupted_runs_model_bit_for_bit(string strategy)
    {
        var plan = Parse(strategy);
        byte[] expected = await UninterruptedAsync(plan);

        var store = new InMemoryStateStore();
        var models = new InMemoryModelStore();
        var run = await CrashAsync(plan, store, models);
        byte[] resumed = await ResumeAsync(plan, run, store, models);

        Assert.Equal(expected, resumed);
        var resumedEvent = Assert.Single(await EventsAsync(store, run.Id, "run.resumed"));
        Assert.Contains($"resumed at round {CrashInRound} from the saved model of round {CrashInRound - 1}; strategy state restored from round {CrashInRound - 1}", resumedEvent);
        Assert.Empty(await EventsAsync(store, run.Id, "run.checkpoint_fallback"));
        Assert.Equal(Rounds, (await store.ListRoundsAsync(run.Id, CancellationToken.None)).Count);
    }

    [Theory]
    [InlineData("fedadam")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    public async Task A_run_with_its_optimiser_moments_on_disk_resumed_after_a_crash_ends_with_the_in_memory_runs_model_bit_for_bit(string name)
    {
        var plan = Parse($"{{ name: {name}, params: {{ server_learning_rate: 0.05 }} }}");
        byte[] expected = await UninterruptedAsync(plan);
        // The same crash with the moments in memory, for its checkpoint files.
        var inMemory = new ModelStore(Path.Combine(_folder, "in-memory"));
        var inMemoryRun = await CrashAsync(plan, new InMemoryStateStore(), inMemory);

        // The moments in scratch files whatever the model's size, and every checkpoint read back a range at a time.
        var store = new InMemoryStateStore();
        var models = new ModelStore(Path.Combine(_folder, "models"), flushToDisk: false, keepRoundResults: true, storedCheckpointBytes: 0);
        var run = await CrashAsync(plan, store, models, new StrategyServices { StateOnDiskBytes = 0, SpillFolder = Path.Combine(_folder, "spool-crashed") });
        for (int round = 1; round < CrashInRound; round++)
        {
            // Streamed out of the state file: the bytes an in-memory checkpoint gives.
            Assert.Equal(await File.ReadAllBytesAsync(inMemory.CheckpointPathOf(inMemoryRun.Id, round)), await File.ReadAllBytesAsync(models.CheckpointPathOf(run.Id, round)));
        }
        string spool = Path.Combine(_folder, "spool");
        byte[] resumed = await ResumeAsync(plan, run, store, models, new StrategyServices { StateOnDiskBytes = 0, SpillFolder = spool });

        Assert.Equal(expected, resumed);
        Assert.Contains($"strategy state restored from round {CrashInRound - 1}", Assert.Single(await EventsAsync(store, run.Id, "run.resumed")));
        // The state file went with the last round's checkpoint, closed once that was written: nothing of it is left.
        Assert.True(Directory.Exists(spool), "no state file was made");
        Assert.Empty(Directory.GetFiles(spool));
        string[] open = Directory.GetFiles("/proc/self/fd").Select(fd => new FileInfo(fd).LinkTarget)
            .Where(target => target is not null && target.StartsWith(spool + Path.DirectorySeparatorChar, StringComparison.Ordinal)).ToArray()!;
        Assert.True(open.Length == 0, $"state files still open after the run: {string.Join(", ", open)}");
    }

    [Fact]
    public async Task Without_its_strategy_state_a_resumed_fedadam_run_would_diverge()
    {
        // Guards the test above: the optimiser's moments matter to the final model in this set-up.
        var plan = Parse("{ name: fedadam, params: { server_learning_rate: 0.05 } }");
        byte[] expected = await UninterruptedAsync(plan);
        var store = new InMemoryStateStore();
        var models = new InMemoryModelStore();
        var run = await CrashAsync(plan, store, models);
        var fresh = (IStatefulStrategy)StrategyRegistry.CreateDefault().Create(plan.Strategy.Name, plan.Strategy.Parameters, StrategyServices.None);
        await Executor(Pool(), store, new ForgetfulModelStore(models, fresh.Save())).ExecuteAsync(run, plan, CrashInRound, CancellationToken.None);
        Assert.Contains("strategy state restored", Assert.Single(await EventsAsync(store, run.Id, "run.resumed")));
        Assert.NotEqual(expected, Bytes((await models.LoadAsync(run.Id, Rounds, CancellationToken.None))!));
    }

    [Fact]
    public async Task A_corrupt_strategy_checkpoint_falls_back_to_the_round_before_with_an_event_and_still_ends_identical()
    {
        var plan = Parse("{ name: fedadam, params: { server_learning_rate: 0.05 } }");
        byte[] expected = await UninterruptedAsync(plan);
        var store = new InMemoryStateStore();
        var models = new ModelStore(_folder);
        var run = await CrashAsync(plan, store, models);

        string path = models.CheckpointPathOf(run.Id, CrashInRound - 1);
        byte[] file = await File.ReadAllBytesAsync(path);
        file[file.Length / 2] ^= 0x40;
        await File.WriteAllBytesAsync(path, file);
        byte[] resumed = await ResumeAsync(plan, run, store, models);

        Assert.Equal(expected, resumed);
        string fallback = Assert.Single(await EventsAsync(store, run.Id, "run.checkpoint_fallback"));
        Assert.Contains($"the strategy state of round {CrashInRound - 1} is corrupt", fallback);
        Assert.Contains("checksum mismatch", fallback);
        Assert.Contains($"rerunning from round {CrashInRound - 1}", fallback);
        Assert.Contains($"strategy state restored from round {CrashInRound - 2}", Assert.Single(await EventsAsync(store, run.Id, "run.resumed")));
        Assert.Equal(Rounds, (await store.GetRunAsync(run.Id, CancellationToken.None))!.RoundsDone);
    }

    [Fact]
    public async Task When_no_round_has_a_usable_model_the_resumed_run_fails_with_the_reasons()
    {
        var plan = Parse("{ name: fedavgm, params: { server_momentum: 0.9 } }");
        var store = new InMemoryStateStore();
        var models = new ModelStore(_folder);
        var run = await CrashAsync(plan, store, models);
        for (int round = 0; round < CrashInRound; round++) File.Delete(models.PathOf(run.Id, round));

        var failure = await Assert.ThrowsAsync<RunFailedException>(() => ResumeAsync(plan, run, store, models));
        Assert.Contains($"cannot resume at round {CrashInRound}: no earlier round has a usable model and strategy state", failure.Message);
        Assert.Contains("the model of round 0 is missing", failure.Message);
    }

    /// <summary>Stops the run (through its token) when the fit after the first <c>fits</c> is asked for.</summary>
    private sealed class CrashSwitch(int fits, CancellationTokenSource stop)
    {
        private int _count;

        public void OnFit()
        {
            if (Interlocked.Increment(ref _count) > fits) stop.Cancel();
        }
    }

    [Fact]
    public async Task A_run_whose_last_model_cannot_be_flushed_to_disk_fails_instead_of_finishing()
    {
        if (!OperatingSystem.IsLinux()) return;
        var plan = Parse("{ name: fedavg }");
        var store = new InMemoryStateStore();
        string last = $"round-{Rounds:D4}.cps";
        // Every earlier model is flushed; the last one's flush (behind its round) fails as a disk would.
        var models = new ModelStore(_folder, true, true, ModelStore.StoredCheckpointBytes, path =>
        {
            if (Path.GetFileName(path) == last) throw new IOException($"fdatasync failed for {last}: Input/output error");
            ParameterSetFile.FlushData(path);
        });
        var run = await NewRunAsync(plan, store);
        var failure = await Assert.ThrowsAsync<IOException>(() => Executor(Pool(), store, models).ExecuteAsync(run, plan, 1, CancellationToken.None));
        Assert.Equal($"fdatasync failed for {last}: Input/output error", failure.Message);
        // Every round ran and was recorded; only the end of the run (its last model on disk) failed, and no spare is left.
        Assert.Equal(Rounds, (await store.GetRunAsync(run.Id, CancellationToken.None))!.RoundsDone);
        Assert.False(File.Exists(Path.Combine(_folder, run.Id, "model.spare")));
    }

    /// <summary>A model store whose strategy checkpoints all hold a fresh strategy's state (as if the state were lost).</summary>
    private sealed class ForgetfulModelStore(IModelStore inner, StrategyCheckpoint fresh) : IModelStore
    {
        public Task SaveAsync(string runId, int round, ParameterSet parameters, CancellationToken ct) => inner.SaveAsync(runId, round, parameters, ct);

        public Task CloseRunAsync(string runId) => inner.CloseRunAsync(runId);

        public Task FlushAsync(string runId) => inner.FlushAsync(runId);

        public Task<ParameterSet?> LoadAsync(string runId, int round, CancellationToken ct) => inner.LoadAsync(runId, round, ct);

        public Task SaveCheckpointAsync(string runId, int round, StrategyCheckpoint checkpoint, CancellationToken ct) => Task.CompletedTask;

        public Task<StrategyCheckpoint?> LoadCheckpointAsync(string runId, int round, CancellationToken ct) => Task.FromResult<StrategyCheckpoint?>(fresh);

        public Task SaveStatisticsAsync(string runId, Config statistics, CancellationToken ct) => inner.SaveStatisticsAsync(runId, statistics, ct);

        public Task<Config?> LoadStatisticsAsync(string runId, CancellationToken ct) => inner.LoadStatisticsAsync(runId, ct);

        public Task SaveRoundResultAsync(string runId, int round, string key, KeptResult result, CancellationToken ct) => inner.SaveRoundResultAsync(runId, round, key, result, ct);

        public Task<(IReadOnlyList<KeptResult> Results, IReadOnlyList<string> Problems)> LoadRoundResultsAsync(string runId, int round, CancellationToken ct) =>
            inner.LoadRoundResultsAsync(runId, round, ct);

        public Task DiscardRoundResultsAsync(string runId, int keepRound, CancellationToken ct) => inner.DiscardRoundResultsAsync(runId, keepRound, ct);

        public int LatestRound(string runId) => inner.LatestRound(runId);
    }

    /// <summary>
    /// Each fit pulls every weight toward a node-specific target at a node-specific rate, so updates differ
    /// between nodes and rounds; answers SCAFFOLD tasks with a control-variate delta as well.
    /// </summary>
    private sealed class DriftApp(float rate, CrashSwitch? crash) : IClientApp
    {
        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [5])]));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            crash?.OnFit();
            bool scaffold = ScaffoldTensors.IsScaffoldTask(parameters);
            var (model, control) = scaffold ? ScaffoldTensors.Split(parameters) : (parameters, new ParameterSet([]));
            var next = model.Clone();
            var w = next["w"].AsFloat32();
            // Like SCAFFOLD's corrected local steps, the server control variate moves the update.
            var serverControl = scaffold ? control["w"].AsFloat32() : new float[w.Length];
            for (int i = 0; i < w.Length; i++) w[i] += rate * ((i + 1) * rate * 10f - w[i]) - 0.2f * serverControl[i];
            if (!scaffold) return Task.FromResult(new FitResult(next, 10, Metrics.Empty));
            var delta = control.Clone();
            var c = delta["w"].AsFloat32();
            for (int i = 0; i < c.Length; i++) c[i] = rate * (i + 1) - 0.5f * c[i];
            return Task.FromResult(new FitResult(ScaffoldTensors.Result(next, delta), 10, Metrics.Empty));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(parameters["w"].AsFloat32()[0], 1, Metrics.Empty));
    }
}
