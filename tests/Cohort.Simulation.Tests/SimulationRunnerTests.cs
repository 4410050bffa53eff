using Cohort.Apps;
using Cohort.Engine.State;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Simulation.Tests;

public sealed class SimulationRunnerTests
{
    private static Plan Parse(string yaml) => PlanParser.Parse(yaml, "test-plan.yaml", StrategyRegistry.CreateDefault());

    private static string JitterPlan(int clients, double fraction, int workers, int rounds = 3, int minFit = 1) => $"""
        name: jitter
        app: {"{"} name: jitter {"}"}
        strategy: {"{"} name: fedavg {"}"}
        rounds: {rounds}
        selection: {"{"} min_available: {clients}, min_fit: {minFit}, fraction_fit: {fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)}, fraction_evaluate: 0.5 {"}"}
        seed: 11
        simulation: {"{"} clients: {clients}, workers: {workers}, partitioner: {"{"} name: dirichlet, params: {"{"} alpha: 0.5 {"}"} {"}"} {"}"}
        """;

    private static SimulationOptions Options(string dir, params IClientAppFactory[] apps) => new()
    {
        DataDir = dir,
        PlanSource = "test-plan.yaml",
        Apps = apps.Length > 0 ? apps : BuiltInApps.Factories(),
    };

    [Fact]
    public async Task Same_plan_and_seed_give_bit_identical_global_models_whatever_the_completion_order()
    {
        using var dir = new TempDir();
        var plan = Parse(JitterPlan(clients: 40, fraction: 0.5, workers: 4));
        var first = await SimulationRunner.RunAsync(plan, Options(Path.Combine(dir.Path, "a"), new JitterAppFactory(4000)), CancellationToken.None);
        var second = await SimulationRunner.RunAsync(plan, Options(Path.Combine(dir.Path, "b"), new JitterAppFactory(4000)), CancellationToken.None);
        Assert.Equal(RunStatus.Finished, first.Run.Status);
        Assert.Equal(RunStatus.Finished, second.Run.Status);
        Assert.True(first.PeakRunning > 1, "the clients should have run in parallel for the test to mean anything");
        Assert.Equal(await File.ReadAllBytesAsync(first.ModelPath!), await File.ReadAllBytesAsync(second.ModelPath!));
    }

    [Fact]
    public async Task A_million_virtual_clients_share_a_small_table_and_each_round_samples_its_fraction()
    {
        using var dir = new TempDir();
        var plan = Parse("""
            name: million
            app: { name: jitter }
            strategy: { name: fedavg }
            rounds: 2
            selection: { min_available: 1000000, min_fit: 100, fraction_fit: 0.0001, fraction_evaluate: 0.00005 }
            seed: 3
            simulation: { clients: 1000000, workers: 2, partitioner: iid }
            """);

        var result = await SimulationRunner.RunAsync(plan, Options(dir.Path, new JitterAppFactory(1000)), CancellationToken.None);

        Assert.True(result.Run.Status == RunStatus.Finished, result.Run.Error);
        Assert.Equal(1_000_000, result.Clients);
        var results = await new SqliteStateStore(Path.Combine(dir.Path, "cohort.db")).ListNodeResultsAsync(result.Run.Id, CancellationToken.None);
        foreach (int round in new[] { 1, 2 })
        {
            var fit = results.Where(r => r.Round == round && r.Phase == "fit").ToArray();
            Assert.Equal(100, fit.Select(r => r.Node).Distinct().Count());
            Assert.All(fit, r => Assert.Equal(1, r.Examples)); // one example each from the 1,000-row table
            Assert.Equal(50, results.Count(r => r.Round == round && r.Phase == "evaluate"));
        }
    }

    [Fact]
    public void The_jitter_results_would_differ_in_a_float32_sum_of_another_order_but_FedAvg_does_not()
    {
        // Folding these updates into a float32 running sum in another order changes the bits, so the
        // determinism test above is meaningful; FedAvg's reproducible sum gives the same bytes either way.
        var template = new ParameterSet([Tensor.Zeros("w", DType.Float32, [257])]);
        var updates = Enumerable.Range(0, 20).Select(c =>
        {
            var w = new float[257];
            for (int i = 0; i < w.Length; i++) w[i] = MathF.Sin(c * 7.31f + i) * (1 + c % 5) * 1e-3f + 1e-7f * i;
            return new FitResult(new ParameterSet([Tensor.FromFloat32("w", [257], w)]), 50 + 13 * c, Records.Metrics.Empty);
        }).ToArray();
        byte[] FloatSum(IEnumerable<FitResult> order)
        {
            var sum = new float[257];
            foreach (var u in order) System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(u.Parameters[0].AsFloat32(), u.Examples, sum, sum);
            return System.Runtime.InteropServices.MemoryMarshal.AsBytes(sum.AsSpan()).ToArray();
        }
        byte[] Average(IEnumerable<FitResult> order)
        {
            using var avg = new FedAvg.WeightedAverage(template);
            foreach (var u in order) avg.Add("n", u);
            return avg.Complete([]).Parameters[0].Data.ToArray();
        }
        Assert.NotEqual(FloatSum(updates), FloatSum(updates.Reverse()));
        Assert.Equal(Average(updates), Average(updates.Reverse()));
    }

    [Fact]
    public async Task A_virtual_clients_app_state_carries_from_one_fit_to_its_next_though_each_task_gets_a_new_app()
    {
        using var dir = new TempDir();
        var plan = Parse(JitterPlan(clients: 4, fraction: 1.0, workers: 2, rounds: 3, minFit: 4).Replace("name: jitter", "name: counting", StringComparison.Ordinal));
        var result = await SimulationRunner.RunAsync(plan, Options(dir.Path, new CountingAppFactory()), CancellationToken.None);
        Assert.Equal(RunStatus.Finished, result.Run.Status);

        var store = new SqliteStateStore(Path.Combine(dir.Path, "cohort.db"));
        var fits = (await store.ListNodeResultsAsync(result.Run.Id, CancellationToken.None)).Where(r => r.Phase == "fit").ToArray();
        Assert.Equal(12, fits.Length);
        // Every client fits once a round: in round r its app was told of the r − 1 fits before.
        Assert.All(fits, f => Assert.Equal(f.Round - 1, f.Metrics.GetInt("fits_before", -1)));
    }

    [Fact]
    public async Task A_virtual_client_that_throws_is_recorded_as_a_failure_and_the_round_goes_on()
    {
        using var dir = new TempDir();
        var plan = Parse(JitterPlan(clients: 5, fraction: 1.0, workers: 2, rounds: 2, minFit: 3));
        var faults = new System.Collections.Concurrent.ConcurrentQueue<(string Client, Exception Fault)>();
        var options = Options(dir.Path, new JitterAppFactory(1000, "client-03")) with { OnAppFault = (client, e) => faults.Enqueue((client, e)) };
        var result = await SimulationRunner.RunAsync(plan, options, CancellationToken.None);
        Assert.Equal(RunStatus.Finished, result.Run.Status);
        // The exception itself, with its stack trace, reaches the caller, once per failed task (the round keeps its message).
        Assert.Equal(2, faults.Count);
        Assert.All(faults, f => Assert.Equal("client-03", f.Client));
        Assert.All(faults, f => Assert.Contains("JitterApp", f.Fault.StackTrace, StringComparison.Ordinal));
        Assert.Equal(2, result.Run.RoundsDone);
        var store = new SqliteStateStore(Path.Combine(dir.Path, "cohort.db"));
        var results = await store.ListNodeResultsAsync(result.Run.Id, CancellationToken.None);
        var fits = results.Where(r => r.Phase == "fit").ToArray();
        Assert.Equal(10, fits.Length);
        var failed = Assert.Single(fits, f => f.Round == 1 && !f.Ok);
        Assert.Equal("client-03", failed.Node);
        Assert.Contains("disk on fire at client-03", failed.Error);
        Assert.Equal(4, fits.Count(f => f.Round == 1 && f.Ok));
        Assert.All(result.Rounds, r => Assert.Contains("client-03", r.Error));
    }

    [Fact]
    public void An_unknown_app_names_the_nearest_one_that_can_be_simulated_and_the_plugin_option()
    {
        var plan = Parse("""
            name: typo
            app: { name: tabulr }
            strategy: { name: fedavg }
            simulation: { clients: 2, data: { synthetic: { rows: 100 } } }
            """);

        var e = Assert.Throws<PlanException>(() => SimulationRunner.Prepare(plan, Options(Path.GetTempPath())));

        Assert.Contains("unknown app 'tabulr'", e.Problem, StringComparison.Ordinal);
        Assert.Contains("(did you mean 'tabular'?)", e.Problem, StringComparison.Ordinal);
        Assert.EndsWith("an app of your own comes from its plugin: --plugin PATH.dll", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_short_MNIST_simulation_reaches_80_percent_test_accuracy()
    {
        using var dir = new TempDir();
        string mnist = RepositoryPaths.Combine("examples", "mnist", "data");
        var plan = Parse($"""
            name: mnist-short
            app: {"{"} name: mnist, settings: {"{"} model: 2nn, threads: 1, train_examples: 3000, test_examples: 1000 {"}"} {"}"}
            strategy: {"{"} name: fedavg {"}"}
            rounds: 2
            selection: {"{"} min_available: 5, min_fit: 5, fraction_fit: 1.0, fraction_evaluate: 0.0 {"}"}
            train: {"{"} local_epochs: 1, batch_size: 10, optimizer: sgd, learning_rate: 0.1 {"}"}
            simulation: {"{"} clients: 5, workers: 2, partitioner: iid, data: {mnist} {"}"}
            """);
        var result = await SimulationRunner.RunAsync(plan, Options(dir.Path), CancellationToken.None);
        Assert.Equal(RunStatus.Finished, result.Run.Status);
        var accuracy = result.Rounds.Select(r => r.CentralMetrics.GetDouble("accuracy", double.NaN)).ToArray();
        Assert.True(accuracy[^1] >= 0.80, $"central test accuracy per round: {string.Join(", ", accuracy)}");
    }

    [Fact]
    public async Task Simulation_writes_the_runs_rounds_and_models_a_server_reads()
    {
        using var dir = new TempDir();
        var plan = Parse("""
            name: synthetic
            app: { name: tabular, settings: { label: y, model: logistic } }
            strategy: { name: fedavg }
            rounds: 3
            selection: { min_available: 50, min_fit: 10, fraction_fit: 0.2, fraction_evaluate: 0.1 }
            train: { local_epochs: 2, batch_size: 8, learning_rate: 0.1 }
            simulation: { clients: 50, workers: 2, partitioner: { name: size-skewed, params: { ratio: 5 } }, data: { synthetic: { rows: 5000, features: 8 } } }
            """);
        var result = await SimulationRunner.RunAsync(plan, Options(dir.Path), CancellationToken.None);
        var store = new SqliteStateStore(Path.Combine(dir.Path, "cohort.db"));
        var run = await store.GetRunAsync(result.Run.Id, CancellationToken.None);
        Assert.Equal(RunStatus.Finished, run!.Status);
        Assert.Equal(3, (await store.ListRoundsAsync(run.Id, CancellationToken.None)).Count);
        Assert.Equal(3 * 10 + 3 * 5, (await store.ListNodeResultsAsync(run.Id, CancellationToken.None)).Count);
        var models = new Engine.Models.ModelStore(Path.Combine(dir.Path, "models"));
        Assert.Equal(3, models.LatestRound(run.Id));
        Assert.True(result.Rounds[^1].CentralMetrics.GetDouble("accuracy", 0) > 0.75);
    }

    [Fact]
    public void A_bad_partitioner_parameter_is_reported_at_its_line_in_the_plan()
    {
        var plan = Parse("""
            name: bad
            app: { name: jitter }
            strategy: { name: fedavg }
            simulation:
              clients: 4
              partitioner:
                name: dirichlet
                params:
                  alpha: -1
            """);
        var e = Assert.Throws<PlanException>(() => SimulationRunner.Prepare(plan, Options("unused", new JitterAppFactory(100))));
        Assert.Equal(9, e.Line);
        Assert.Contains("simulation.partitioner.params.alpha", e.Message);
        Assert.Contains("> 0", e.Message);
    }

    [Fact]
    public void The_plan_parser_reads_the_simulation_section_and_positions_its_errors()
    {
        var plan = Parse("""
            name: ok
            app: { name: tabular }
            strategy: { name: fedavg }
            simulation:
              clients: 100
              workers: 3
              partitioner: { name: classes, params: { classes: { a: [1, 2] }, def_prob: 0.05 } }
              data: data.csv
              histogram: true
            """);
        var s = plan.Simulation!;
        Assert.Equal((100, 3, "classes", true), (s.Clients, s.Workers, s.Partitioner.Name, s.Histogram));
        Assert.Equal("1,2", s.Partitioner.Parameters["classes.a"].ToString());
        Assert.Equal("data.csv", s.Data["path"].ToString());
        Assert.Null(Parse("name: x\napp: { name: tabular }\nstrategy: { name: fedavg }\n").Simulation);

        var zero = Assert.Throws<PlanException>(() => Parse("name: x\napp: { name: tabular }\nstrategy: { name: fedavg }\nsimulation:\n  clients: 0\n"));
        Assert.Equal((5L, "simulation.clients: 0 is not allowed (must be >= 1)"), (zero.Line, zero.Problem));
        var unknown = Assert.Throws<PlanException>(() => Parse("name: x\napp: { name: tabular }\nstrategy: { name: fedavg }\nsimulation:\n  clients: 2\n  nodes: 3\n"));
        Assert.Contains("allowed: clients, workers, partitioner, data, histogram", unknown.Message);
        var histogram = Assert.Throws<PlanException>(() => Parse("name: x\napp: { name: tabular }\nstrategy: { name: fedavg }\nsimulation:\n  clients: 2\n  histogram: yes please\n"));
        Assert.Equal(6, histogram.Line);
    }
}
