using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Tests.Shared;

namespace Cohort.Engine.Tests;

/// <summary>
/// The fit results kept for an unfinished round: appended to one file per round, read back (the last of a key wins, a
/// record cut short by a crash is dropped), and discarded after every round without listing the run's folder each time.
/// </summary>
public sealed class ModelStoreKeptResultsTests : IDisposable
{
    private const string Run = "run-a";
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"cohort-kept-store-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private static KeptResult Result(string node, int round, float value = 1f, int values = 2) => new(node, round - 1,
        new TaskOutcome(true, null, 10, 0.5, Metrics.Empty, new ParameterSet([Tensor.FromFloat32("w", [values], Enumerable.Repeat(value, values).ToArray())]), 0.1, 8));

    private string[] ResultEntries() =>
        Directory.EnumerateFileSystemEntries(Path.Combine(_root, Run), "*.results").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    private static float First(KeptResult r) => r.Outcome.Parameters!["w"].AsFloat32()[0];

    [Fact]
    public async Task Results_read_back_in_key_order_and_the_last_result_of_a_node_wins()
    {
        var store = new ModelStore(_root);
        await store.SaveRoundResultAsync(Run, 3, "n2", Result("n2", 3, 2f), CancellationToken.None);
        await store.SaveRoundResultAsync(Run, 3, "n1", Result("n1", 3, 1f), CancellationToken.None);
        await store.SaveRoundResultAsync(Run, 3, "n2", Result("n2", 3, 5f), CancellationToken.None);
        // Larger than 1 MiB: streamed into its record rather than written at once.
        await store.SaveRoundResultAsync(Run, 3, "n3", Result("n3", 3, 3f, values: 300_000), CancellationToken.None);

        var (results, problems) = await new ModelStore(_root).LoadRoundResultsAsync(Run, 3, CancellationToken.None);

        Assert.Empty(problems);
        Assert.Equal(["n1", "n2", "n3"], results.Select(r => r.Node));
        Assert.Equal([1f, 5f, 3f], results.Select(First));
        Assert.Equal(300_000, results[2].Outcome.Parameters!["w"].Count);
        Assert.All(results, r => Assert.Equal(2, r.SentVersion));
    }

    [Fact]
    public async Task Disposing_closes_the_results_file_of_an_unfinished_round_and_keeps_its_records()
    {
        var store = new ModelStore(_root);
        await store.SaveRoundResultAsync(Run, 4, "n1", Result("n1", 4, 7f), CancellationToken.None);
        string path = Path.GetFullPath(store.RoundResultsPathOf(Run, 4));
        Assert.Contains(path, OpenFiles.Under(path)); // held open between results (the check below would prove nothing otherwise)

        store.Dispose();

        Assert.Empty(OpenFiles.Under(path));
        var (results, problems) = await new ModelStore(_root).LoadRoundResultsAsync(Run, 4, CancellationToken.None);
        Assert.Empty(problems);
        Assert.Equal(7f, First(Assert.Single(results)));
        // A write after it opens the file again.
        await store.SaveRoundResultAsync(Run, 4, "n2", Result("n2", 4, 8f), CancellationToken.None);
        Assert.Equal(2, (await store.LoadRoundResultsAsync(Run, 4, CancellationToken.None)).Results.Count);
        store.Dispose();
    }

    [Fact]
    public async Task A_record_cut_short_by_a_crash_is_noted_and_cut_off_so_that_later_results_follow_the_last_whole_one()
    {
        var store = new ModelStore(_root);
        await store.SaveRoundResultAsync(Run, 1, "n1", Result("n1", 1), CancellationToken.None);
        await store.SaveRoundResultAsync(Run, 1, "n2", Result("n2", 1), CancellationToken.None);
        string path = store.RoundResultsPathOf(Run, 1);
        long whole = new FileInfo(path).Length;
        await using (var file = new FileStream(path, FileMode.Open))
            file.SetLength(whole - 7);

        var (results, problems) = await store.LoadRoundResultsAsync(Run, 1, CancellationToken.None);
        Assert.Equal(["n1"], results.Select(r => r.Node));
        Assert.Contains("cut short", Assert.Single(problems));

        await store.SaveRoundResultAsync(Run, 1, "n2", Result("n2", 1, 4f), CancellationToken.None);
        (results, problems) = await store.LoadRoundResultsAsync(Run, 1, CancellationToken.None);
        Assert.Empty(problems);
        Assert.Equal(["n1", "n2"], results.Select(r => r.Node));
        Assert.Equal(4f, First(results[1]));
    }

    [Fact]
    public async Task A_streamed_record_whose_length_was_never_set_is_cut_short_not_read()
    {
        var store = new ModelStore(_root);
        await store.SaveRoundResultAsync(Run, 1, "n1", Result("n1", 1), CancellationToken.None);
        string path = store.RoundResultsPathOf(Run, 1);
        long first = new FileInfo(path).Length;
        await store.SaveRoundResultAsync(Run, 1, "n2", Result("n2", 1, values: 300_000), CancellationToken.None);
        // As the record stands while its result is streamed: the header it starts with, the length not yet set.
        await using (var file = new FileStream(path, FileMode.Open))
        {
            file.Position = first;
            file.Write([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
        }

        var (results, problems) = await store.LoadRoundResultsAsync(Run, 1, CancellationToken.None);

        Assert.Equal(["n1"], results.Select(r => r.Node));
        Assert.Contains("cut short", Assert.Single(problems));
        Assert.Equal(first, new FileInfo(path).Length);
    }

    [Fact]
    public async Task Discarding_removes_what_an_earlier_process_left_and_what_was_written_since_but_the_round_kept()
    {
        var earlier = new ModelStore(_root);
        await earlier.SaveRoundResultAsync(Run, 1, "n1", Result("n1", 1), CancellationToken.None);
        await earlier.SaveRoundResultAsync(Run, 2, "n1", Result("n1", 2), CancellationToken.None);
        Directory.CreateDirectory(Path.Combine(_root, Run, "round-7.results"));
        // A round kept in a folder of one file per result, as data folders written before hold them.
        string legacy = Path.Combine(_root, Run, "round-0005.results");
        Directory.CreateDirectory(legacy);
        await ParameterSetFile.WriteAsync(Path.Combine(legacy, "n9.cps"), KeptResultCodec.Encode(Result("n9", 5)));
        await earlier.SaveAsync(Run, 1, new ParameterSet([Tensor.FromFloat32("w", [1], [1f])]), CancellationToken.None);
        await earlier.CloseRunAsync(Run);

        // A new process finds them on disk the first time and keeps the interrupted round's.
        var store = new ModelStore(_root);
        Assert.Equal(["n9"], (await store.LoadRoundResultsAsync(Run, 5, CancellationToken.None)).Results.Select(r => r.Node));
        await store.SaveRoundResultAsync(Run, 5, "n8", Result("n8", 5), CancellationToken.None);
        Assert.Equal(["n8", "n9"], (await store.LoadRoundResultsAsync(Run, 5, CancellationToken.None)).Results.Select(r => r.Node));
        await store.DiscardRoundResultsAsync(Run, 2, CancellationToken.None);
        Assert.Equal(["round-0002.results"], ResultEntries());
        Assert.Single((await store.LoadRoundResultsAsync(Run, 2, CancellationToken.None)).Results);

        // Then round by round, from what it wrote itself.
        await store.SaveRoundResultAsync(Run, 3, "n2", Result("n2", 3), CancellationToken.None);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultEntries());
        await store.SaveRoundResultAsync(Run, 4, "n1", Result("n1", 4), CancellationToken.None);
        await store.SaveRoundResultAsync(Run, 4, "n2", Result("n2", 4), CancellationToken.None);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultEntries());
        Assert.True(File.Exists(store.PathOf(Run, 1)));
    }

    [Fact]
    public async Task A_discarded_rounds_file_is_emptied_and_taken_by_the_next_round_instead_of_a_new_file()
    {
        var store = new ModelStore(_root);
        await store.SaveRoundResultAsync(Run, 1, "n1", Result("n1", 1, 1f), CancellationToken.None);
        long inode = Inode(store.RoundResultsPathOf(Run, 1));
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultEntries());
        string spare = Path.Combine(_root, Run, "kept-results.spare");
        Assert.Equal(0, new FileInfo(spare).Length);

        await store.SaveRoundResultAsync(Run, 2, "n2", Result("n2", 2, 2f), CancellationToken.None);
        Assert.Equal(inode, Inode(store.RoundResultsPathOf(Run, 2)));
        Assert.False(File.Exists(spare));
        var (results, problems) = await store.LoadRoundResultsAsync(Run, 2, CancellationToken.None);
        Assert.Empty(problems);
        Assert.Equal(["n2"], results.Select(r => r.Node));
        Assert.Equal([2f], results.Select(First));

        // A restarted server finds the spare as well; a second discarded file, with a spare waiting, is deleted.
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        var restarted = new ModelStore(_root);
        await restarted.SaveRoundResultAsync(Run, 3, "n3", Result("n3", 3, 3f), CancellationToken.None);
        await restarted.SaveRoundResultAsync(Run, 4, "n4", Result("n4", 4, 4f), CancellationToken.None);
        Assert.Equal(inode, Inode(restarted.RoundResultsPathOf(Run, 3)));
        await restarted.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultEntries());
        Assert.Equal(["kept-results.spare"], Directory.GetFiles(Path.Combine(_root, Run), "kept-results.*").Select(Path.GetFileName));
        Assert.Empty((await restarted.LoadRoundResultsAsync(Run, 4, CancellationToken.None)).Results);

        // The first store, its last round discarded, holds no file of the run: its next result goes where the second store left the spare.
        await store.SaveRoundResultAsync(Run, 5, "n5", Result("n5", 5, 5f), CancellationToken.None);
        var (fifth, fifthProblems) = await store.LoadRoundResultsAsync(Run, 5, CancellationToken.None);
        Assert.Empty(fifthProblems);
        Assert.Equal([5f], fifth.Select(First));
        await store.CloseRunAsync(Run);
        await restarted.CloseRunAsync(Run);
    }

    [Fact]
    public async Task A_rounds_results_go_through_one_held_file_and_closing_the_run_keeps_an_unfinished_rounds_results_but_not_the_spare()
    {
        var store = new ModelStore(_root);
        long inode = 0;
        for (int round = 1; round <= 3; round++)
        {
            foreach (var node in new[] { "n1", "n2", "n3" }) await store.SaveRoundResultAsync(Run, round, node, Result(node, round, round), CancellationToken.None);
            if (round == 1) inode = Inode(store.RoundResultsPathOf(Run, 1));
            Assert.Equal(inode, Inode(store.RoundResultsPathOf(Run, round)));
            var (results, problems) = await store.LoadRoundResultsAsync(Run, round, CancellationToken.None);
            Assert.Empty(problems);
            Assert.Equal(["n1", "n2", "n3"], results.Select(r => r.Node));
            Assert.All(results, r => Assert.Equal(round, First(r)));
            if (round < 3) await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        }
        // The run stops in round 3: its results stay for the resumed run, which reads them with another store.
        await store.CloseRunAsync(Run);
        Assert.Equal(["round-0003.results"], ResultEntries());
        Assert.False(File.Exists(Path.Combine(_root, Run, "kept-results.spare")));
        Assert.Equal(3, (await new ModelStore(_root).LoadRoundResultsAsync(Run, 3, CancellationToken.None)).Results.Count);

        // Discarded after a close (the handle gone), then the next round: a new file, written and read back.
        await store.SaveRoundResultAsync(Run, 3, "n4", Result("n4", 3, 3f), CancellationToken.None);
        Assert.Equal(4, (await store.LoadRoundResultsAsync(Run, 3, CancellationToken.None)).Results.Count);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        await store.SaveRoundResultAsync(Run, 4, "n1", Result("n1", 4, 4f), CancellationToken.None);
        Assert.Equal([4f], (await store.LoadRoundResultsAsync(Run, 4, CancellationToken.None)).Results.Select(First));
        await store.CloseRunAsync(Run);
    }

    // The file's inode number: the same file, not a new one of the same name.
    private static long Inode(string path)
    {
        using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", path]) { RedirectStandardOutput = true })!;
        string output = stat.StandardOutput.ReadToEnd();
        stat.WaitForExit();
        return long.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Discarding_a_run_without_a_folder_does_nothing_and_later_results_are_still_discarded()
    {
        var store = new ModelStore(_root);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.False(Directory.Exists(Path.Combine(_root, Run)));

        await store.SaveRoundResultAsync(Run, 1, "n1", Result("n1", 1), CancellationToken.None);
        await store.DiscardRoundResultsAsync(Run, -1, CancellationToken.None);
        Assert.Empty(ResultEntries());
    }
}
