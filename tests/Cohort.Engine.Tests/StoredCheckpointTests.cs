using Cohort.Apps;
using Cohort.Engine.Models;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;
using Tensor = Cohort.Parameters.Tensor;

namespace Cohort.Engine.Tests;

/// <summary>
/// A strategy state kept in a file (FedAdam's moments past the server's threshold) is written into its
/// checkpoint from that file and read back a range at a time: the same file, byte for byte, as an in-memory
/// state gives, checked on load like any other.
/// </summary>
public sealed class StoredCheckpointTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"cohort-stored-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder)) Directory.Delete(_folder, recursive: true);
    }

    private StrategyServices OnDisk => new() { StateOnDiskBytes = 0, SpillFolder = Path.Combine(_folder, "spool") };

    // Two rounds of FedAdam on a model of two tensors (one of several 1 MiB windows), from the same results each time.
    private static FedAdam TwoRounds(StrategyServices services)
    {
        var strategy = new FedAdam(Config.Empty, services);
        var global = new ParameterSet([Tensor.FromFloat32("w", [700_001], Enumerable.Range(0, 700_001).Select(i => MathF.Sin(i)).ToArray()), Tensor.Zeros("b", DType.Float64, [33])]);
        for (int round = 1; round <= 2; round++)
        {
            var context = new RoundContext("run", round, 10, new Selection(), Config.Empty, Config.Empty, new Random(round));
            using var aggregation = strategy.BeginAggregateFit(context, global);
            for (int k = 0; k < 2; k++)
            {
                var random = new Random(round * 10 + k);
                var result = new ParameterSet(global.Select(t => t.DType == DType.Float32
                    ? Tensor.FromFloat32(t.Name, t.Shape, t.AsFloat32().ToArray().Select(x => x + (float)(random.NextDouble() - 0.5)).ToArray())
                    : t.Clone()));
                aggregation.Add($"n{k}", new FitResult(result, 5 + k, Metrics.Empty));
            }
            global = aggregation.Complete([]).Parameters;
        }
        return strategy;
    }

    [Fact]
    public async Task A_state_on_disk_makes_the_same_checkpoint_file_and_restores_from_it_without_reading_it_whole()
    {
        var inMemory = TwoRounds(StrategyServices.None);
        var onDisk = TwoRounds(OnDisk);
        var store = new ModelStore(_folder, flushToDisk: false, keepRoundResults: true, storedCheckpointBytes: 0);
        var saved = onDisk.Save();
        Assert.NotNull(saved.Stored);
        await store.SaveCheckpointAsync("memory", 2, inMemory.Save(), CancellationToken.None);
        await store.SaveCheckpointAsync("disk", 2, saved, CancellationToken.None);
        Assert.Equal(await File.ReadAllBytesAsync(store.CheckpointPathOf("memory", 2)), await File.ReadAllBytesAsync(store.CheckpointPathOf("disk", 2)));

        var loaded = (await store.LoadCheckpointAsync("disk", 2, CancellationToken.None))!;
        Assert.NotNull(loaded.Stored); // left in its file
        var restored = new FedAdam(Config.Empty, OnDisk);
        restored.Restore(loaded);
        var again = restored.Save();
        Assert.NotNull(again.Stored);
        var expected = inMemory.Save().Tensors;
        var actual = again.Tensors;
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Data, actual[i].Data);

        // Restored into a strategy that keeps its state in memory: the same tensors.
        var small = new FedAdam(Config.Empty, StrategyServices.None);
        small.Restore(loaded);
        var inMemoryAgain = small.Save();
        Assert.Null(inMemoryAgain.Stored);
        for (int i = 0; i < expected.Count; i++) Assert.Equal(expected[i].Data, inMemoryAgain.Tensors[i].Data);
    }

    [Fact]
    public async Task A_corrupt_or_cut_checkpoint_read_back_a_range_at_a_time_is_refused_naming_the_file()
    {
        var store = new ModelStore(_folder, flushToDisk: false, keepRoundResults: true, storedCheckpointBytes: 0);
        await store.SaveCheckpointAsync("run", 1, TwoRounds(OnDisk).Save(), CancellationToken.None);
        string path = store.CheckpointPathOf("run", 1);
        byte[] file = await File.ReadAllBytesAsync(path);

        file[file.Length / 2] ^= 0x40;
        await File.WriteAllBytesAsync(path, file);
        var corrupt = await Assert.ThrowsAsync<InvalidDataException>(() => store.LoadCheckpointAsync("run", 1, CancellationToken.None));
        Assert.StartsWith(path, corrupt.Message);
        Assert.Contains("checksum mismatch", corrupt.Message);

        await File.WriteAllBytesAsync(path, file.AsSpan(0, file.Length / 3).ToArray());
        var cut = await Assert.ThrowsAsync<InvalidDataException>(() => store.LoadCheckpointAsync("run", 1, CancellationToken.None));
        Assert.StartsWith(path, cut.Message);
        Assert.Contains("truncated", cut.Message);
    }
}
