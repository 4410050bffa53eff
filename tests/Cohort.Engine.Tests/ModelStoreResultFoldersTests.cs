using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Engine.Tests;

/// <summary>
/// The fit results kept for unfinished rounds are discarded after every round without listing the run's folder each
/// time: what a store finds on disk once (left by an earlier process) and what it writes itself all go.
/// </summary>
public sealed class ModelStoreResultFoldersTests : IDisposable
{
    private const string Run = "run-a";
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"cohort-result-folders-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static KeptResult Result(string node, int round) => new(node, round - 1,
        new TaskOutcome(true, null, 10, 0.5, Metrics.Empty, new ParameterSet([Tensor.FromFloat32("w", [2], [1f, 2f])]), 0.1, 8));

    private string[] ResultFolders() =>
        Directory.EnumerateDirectories(Path.Combine(_root, Run), "*.results").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    [Fact]
    public async Task Discarding_removes_the_folders_an_earlier_process_left_and_those_written_since_but_the_one_kept()
    {
        var earlier = new ModelStore(_root);
        await earlier.SaveRoundResultAsync(Run, 1, "n1", Result("n1", 1), CancellationToken.None);
        await earlier.SaveRoundResultAsync(Run, 2, "n1", Result("n1", 2), CancellationToken.None);
        Directory.CreateDirectory(Path.Combine(_root, Run, "round-7.results"));
        await earlier.SaveAsync(Run, 1, new ParameterSet([Tensor.FromFloat32("w", [1], [1f])]), CancellationToken.None);

        // A new process: it finds the folders on disk the first time, keeps the interrupted round's.
        var store = new ModelStore(_root);
        await store.DiscardRoundResultsAsync(Run, 2, CancellationToken.None);
        Assert.Equal(["round-0002.results"], ResultFolders());
        Assert.Single((await store.LoadRoundResultsAsync(Run, 2, CancellationToken.None)).Results);

        // Then round by round, from what it wrote itself.
        await store.SaveRoundResultAsync(Run, 3, "n2", Result("n2", 3), CancellationToken.None);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultFolders());
        await store.SaveRoundResultAsync(Run, 4, "n1", Result("n1", 4), CancellationToken.None);
        await store.SaveRoundResultAsync(Run, 4, "n2", Result("n2", 4), CancellationToken.None);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultFolders());
        Assert.True(File.Exists(store.PathOf(Run, 1)));
    }

    [Fact]
    public async Task Discarding_a_run_without_a_folder_does_nothing_and_later_results_are_still_discarded()
    {
        var store = new ModelStore(_root);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.False(Directory.Exists(Path.Combine(_root, Run)));

        await store.SaveRoundResultAsync(Run, 1, "n1", Result("n1", 1), CancellationToken.None);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultFolders());
    }
}
