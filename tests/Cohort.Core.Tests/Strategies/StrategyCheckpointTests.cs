using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Privacy;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

public sealed class StrategyCheckpointTests
{
    private static readonly string[] Nodes = ["a", "b", "c"];

    private static IStrategy Create(string name) => Create(name, StrategyServices.None);

    private static IStrategy Create(string name, StrategyServices services) => name switch
    {
        "dp+fedadam" => new DifferentialPrivacy(StrategyRegistry.CreateDefault().Create("fedadam", Config.Empty, services),
            new DifferentialPrivacyOptions(ClippingNorm: 0.5, NoiseMultiplier: 0.3, Seed: 7)),
        // The wrapper keeps no state of its own; its inner strategy's must pass through it.
        "personalized+fedadam" => new PersonalizedStrategy(StrategyRegistry.CreateDefault().Create("fedadam", Config.Empty, services),
            new Cohort.Plans.Personalization { Local = ["head"] }),
        _ => StrategyRegistry.CreateDefault().Create(name, Config.Empty, services),
    };

    // The optimiser state in scratch files of this folder whatever the model's size.
    private static StrategyServices OnDisk(string folder) => new() { StateOnDiskBytes = 0, SpillFolder = folder };

    // One round with results that depend only on the round and the global model, as a deterministic federation would send.
    private static ParameterSet Round(IStrategy strategy, int round, ParameterSet global)
    {
        // FedAvgM writes the new model over the one it is given: each round gets its own copy, so that the
        // uninterrupted and the resumed runs start from the same model.
        global = global.Clone();
        var context = new RoundContext("run", round, 10, new Selection(), new Config([KeyValuePair.Create("learning_rate", Scalar.Of(0.1))]), Config.Empty, new Random(round));
        var instructions = strategy.ConfigureFit(context, global, Nodes);
        using var aggregation = strategy.BeginAggregateFit(context, global);
        foreach (var instruction in instructions)
        {
            var expected = instruction.ExpectedResult ?? global;
            var random = new Random(round * 100 + instruction.Node[0]);
            // A SCAFFOLD node's step depends on the server control variate it was sent.
            var control = instruction.Parameters.Count > global.Count ? instruction.Parameters[global.Count].AsFloat32().ToArray() : null;
            var tensors = expected.Select((t, i) =>
            {
                var values = new float[t.AsFloat32().Length];
                for (int k = 0; k < values.Length; k++)
                    values[k] = (i < global.Count ? global[i].AsFloat32()[k] : 0) + (float)(random.NextDouble() - 0.5) * 0.2f - (control is null ? 0 : 0.5f * control[k]);
                return Tensor.FromFloat32(t.Name, (int[])t.Shape.Clone(), values);
            });
            aggregation.Add(instruction.Node, new FitResult(new ParameterSet(tensors), 10 + instruction.Node[0],
                new Metrics([KeyValuePair.Create("initial_train_loss", Scalar.Of(0.5 + round * 0.01))])));
        }
        return aggregation.Complete([]).Parameters;
    }

    [Theory]
    [InlineData("fedavgm")]
    [InlineData("fedadam")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    [InlineData("scaffold")]
    [InlineData("dp+fedadam")]
    [InlineData("personalized+fedadam")]
    public void A_strategy_restored_from_a_checkpoint_continues_exactly_like_an_uninterrupted_one(string name)
    {
        var initial = new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Range(0, 1000).Select(i => MathF.Sin(i)).ToArray())]);

        var uninterrupted = Create(name);
        var global = initial;
        for (int round = 1; round <= 6; round++) global = Round(uninterrupted, round, global);

        var first = Create(name);
        var resumed = initial;
        for (int round = 1; round <= 3; round++) resumed = Round(first, round, resumed);
        var checkpoint = Assert.IsAssignableFrom<IStatefulStrategy>(first).Save();
        Round(first, 4, resumed); // the old instance goes on: the checkpoint must not change with it
        var fresh = Create(name);
        ((IStatefulStrategy)fresh).Restore(checkpoint);
        for (int round = 4; round <= 6; round++) resumed = Round(fresh, round, resumed);

        Assert.Equal(global["w"].Data, resumed["w"].Data);

        // Without the checkpoint the run diverges: the test would notice a hook that saves nothing.
        var lost = initial;
        var before = Create(name);
        for (int round = 1; round <= 3; round++) lost = Round(before, round, lost);
        var restarted = Create(name);
        for (int round = 4; round <= 6; round++) lost = Round(restarted, round, lost);
        Assert.NotEqual(global["w"].Data, lost["w"].Data);
    }

    [Fact]
    public void FedAvgM_shares_its_velocity_with_a_checkpoint_once_written_and_copies_it_before_then()
    {
        var initial = new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Range(0, 1000).Select(i => MathF.Sin(i)).ToArray())]);
        var strategy = (FedAvgM)Create("fedavgm");
        var global = initial;
        for (int round = 1; round <= 2; round++) global = Round(strategy, round, global);

        // Not written: the next round must leave it as it was.
        var kept = strategy.Save();
        var keptBytes = kept.Tensors["velocity/w"].Data.ToArray();
        global = Round(strategy, 3, global);
        Assert.Equal(keptBytes, kept.Tensors["velocity/w"].Data);

        // Written out: the next round changes the velocity in its buffers, no copy of a model's size is made.
        var written = strategy.Save();
        var writtenBytes = written.Tensors["velocity/w"].Data.ToArray();
        written.MarkWritten();
        Round(strategy, 4, global);
        Assert.NotEqual(writtenBytes, written.Tensors["velocity/w"].Data);
        Assert.Same(written.Tensors["velocity/w"].Data, strategy.Save().Tensors["velocity/w"].Data);

        // Saved while a round is under way (after its aggregation began): still left as it was.
        var context = new RoundContext("run", 5, 10, new Selection(), Config.Empty, Config.Empty, new Random(5));
        using var aggregation = strategy.BeginAggregateFit(context, global.Clone());
        aggregation.Add("a", new FitResult(initial.Clone(), 1, Metrics.Empty));
        var midRound = strategy.Save();
        var midRoundBytes = midRound.Tensors["velocity/w"].Data.ToArray();
        aggregation.Complete([]);
        Assert.Equal(midRoundBytes, midRound.Tensors["velocity/w"].Data);
        Assert.NotEqual(midRoundBytes, strategy.Save().Tensors["velocity/w"].Data);
    }

    [Theory]
    [InlineData("fedadam")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    [InlineData("dp+fedadam")]
    [InlineData("personalized+fedadam")]
    public void With_its_moments_on_disk_a_restored_strategy_continues_exactly_like_an_uninterrupted_one_in_memory(string name)
    {
        var initial = new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Range(0, 1000).Select(i => MathF.Sin(i)).ToArray())]);
        var uninterrupted = Create(name);
        var global = initial;
        for (int round = 1; round <= 6; round++) global = Round(uninterrupted, round, global);

        string folder = Path.Combine(Path.GetTempPath(), $"cohort-state-{Guid.NewGuid():N}");
        try
        {
            var first = Create(name, OnDisk(folder));
            var resumed = initial;
            for (int round = 1; round <= 3; round++) resumed = Round(first, round, resumed);
            var checkpoint = ((IStatefulStrategy)first).Save();
            Assert.NotNull(checkpoint.Stored);
            Round(first, 4, resumed); // the old instance goes on: the checkpoint must not change with it
            var fresh = Create(name, OnDisk(folder));
            ((IStatefulStrategy)fresh).Restore(checkpoint);
            for (int round = 4; round <= 6; round++) resumed = Round(fresh, round, resumed);
            Assert.NotNull(((IStatefulStrategy)fresh).Save().Stored);

            Assert.Equal(global["w"].Data, resumed["w"].Data);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void FedAdam_writes_its_moments_file_in_place_once_its_checkpoint_is_written_and_to_a_copy_before_then()
    {
        var initial = new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Range(0, 1000).Select(i => MathF.Sin(i)).ToArray())]);
        string folder = Path.Combine(Path.GetTempPath(), $"cohort-state-{Guid.NewGuid():N}");
        try
        {
            var strategy = (FedAdam)Create("fedadam", OnDisk(folder));
            var global = initial;
            for (int round = 1; round <= 2; round++) global = Round(strategy, round, global);

            // Not written: the next round must leave it as it was, so it writes to a copy of the file.
            var kept = strategy.Save();
            var keptBytes = kept.Stored!.Load()["m/w"].Data;
            global = Round(strategy, 3, global);
            Assert.Equal(keptBytes, kept.Stored.Load()["m/w"].Data);

            // Written out: the next round changes the file the checkpoint read, no copy is made.
            var written = strategy.Save();
            Assert.NotSame(kept.Stored.Storage, written.Stored!.Storage);
            var writtenBytes = written.Stored.Load()["m/w"].Data;
            written.MarkWritten();
            Round(strategy, 4, global);
            Assert.Same(written.Stored.Storage, strategy.Save().Stored!.Storage);
            Assert.NotEqual(writtenBytes, written.Stored.Load()["m/w"].Data);

            // Saved while a round is under way (after its aggregation began): still left as it was.
            var context = new RoundContext("run", 5, 10, new Selection(), Config.Empty, Config.Empty, new Random(5));
            using var aggregation = strategy.BeginAggregateFit(context, global.Clone());
            aggregation.Add("a", new FitResult(initial.Clone(), 1, Metrics.Empty));
            var midRound = strategy.Save();
            var midRoundBytes = midRound.Stored!.Load()["v/w"].Data;
            aggregation.Complete([]);
            Assert.Equal(midRoundBytes, midRound.Stored.Load()["v/w"].Data);
            Assert.NotEqual(midRoundBytes, strategy.Save().Stored!.Load()["v/w"].Data);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void The_moments_file_goes_with_the_last_rounds_checkpoint_and_is_closed_once_that_is_written()
    {
        var initial = new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Range(0, 1000).Select(i => MathF.Sin(i)).ToArray())]);
        string folder = Path.Combine(Path.GetTempPath(), $"cohort-state-{Guid.NewGuid():N}");
        try
        {
            var strategy = (FedAdam)Create("fedadam", OnDisk(folder));
            var global = initial;
            for (int round = 1; round <= 2; round++)
            {
                var context = new RoundContext("run", round, 2, new Selection(), Config.Empty, Config.Empty, new Random(round));
                using var aggregation = strategy.BeginAggregateFit(context, global);
                aggregation.Add("a", new FitResult(new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Repeat(0.5f * round, 1000).ToArray())]), 1, Metrics.Empty));
                global = aggregation.Complete([]).Parameters;
                if (round == 1) strategy.Save().MarkWritten(); // after round 1 the file stays the strategy's own
                Assert.NotEmpty(OpenFilesIn(folder));
            }
            var last = strategy.Save();
            var state = last.Stored!.Load(); // still readable until written out
            Assert.Equal(2, state.Count);
            Assert.NotEmpty(OpenFilesIn(folder));
            last.MarkWritten();
            // No file of the run's is left open, nor on disk: the last checkpoint had it, and was written.
            Assert.Empty(OpenFilesIn(folder));
            Assert.Empty(Directory.GetFiles(folder));
            var e = Assert.Throws<InvalidOperationException>(() => strategy.Save());
            Assert.Contains("last round", e.Message);
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_strategy_disposed_before_its_last_round_closes_its_moments_file_once_a_checkpoint_still_to_be_written_is()
    {
        var initial = new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Range(0, 1000).Select(i => MathF.Cos(i)).ToArray())]);
        string folder = Path.Combine(Path.GetTempPath(), $"cohort-state-{Guid.NewGuid():N}");
        try
        {
            // Round 1 of 5, then the run stops: the file would otherwise stay open until the strategy is collected.
            var strategy = (FedAdam)Create("fedadam", OnDisk(folder));
            var context = new RoundContext("run", 1, 5, new Selection(), Config.Empty, Config.Empty, new Random(1));
            using (var aggregation = strategy.BeginAggregateFit(context, initial.Clone()))
            {
                aggregation.Add("a", new FitResult(new ParameterSet([Tensor.FromFloat32("w", [1000], Enumerable.Repeat(0.25f, 1000).ToArray())]), 1, Metrics.Empty));
                aggregation.Complete([]);
            }
            var pending = strategy.Save();
            strategy.Dispose();
            // The checkpoint not yet written still reads the moments…
            Assert.NotEmpty(OpenFilesIn(folder));
            Assert.Equal(2, pending.Stored!.Load().Count);
            pending.MarkWritten();
            // …and once it is, nothing of the run's is open.
            Assert.Empty(OpenFilesIn(folder));
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    // This process's open files in folder (their names removed at creation: "/folder/state-….tensors (deleted)").
    private static string[] OpenFilesIn(string folder) =>
        Directory.GetFiles("/proc/self/fd")
            .Select(fd =>
            {
                try
                {
                    return new FileInfo(fd).LinkTarget;
                }
                catch (IOException)
                {
                    return null;
                }
            })
            .OfType<string>()
            .Where(target => target.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .ToArray();

    [Fact]
    public void A_checkpoint_is_refused_by_another_strategy_naming_both()
    {
        var e = Assert.Throws<InvalidOperationException>(() => ((IStatefulStrategy)Create("fedyogi")).Restore(((IStatefulStrategy)Create("fedadam")).Save()));
        Assert.Contains("fedadam", e.Message);
        Assert.Contains("fedyogi", e.Message);
    }
}
