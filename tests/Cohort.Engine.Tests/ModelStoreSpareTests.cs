using System.Diagnostics;
using Cohort.Engine.Models;
using Cohort.Parameters;

namespace Cohort.Engine.Tests;

/// <summary>
/// A run's next model is written over a spare file made ahead at the last model's length (its flush then waits for no
/// journal commit); a model of another length, or a store that does not flush, writes a new file as before.
/// </summary>
public sealed class ModelStoreSpareTests : IDisposable
{
    private const string Run = "run-a";
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"cohort-spare-store-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Spare => Path.Combine(_root, Run, "model.spare");

    private static ParameterSet Model(float value, int values = 1000) =>
        new([Tensor.FromFloat32("w", [values], Enumerable.Repeat(value, values).ToArray())]);

    // The spare is written in the background after a save: waits until it is there at the length given, all zeros.
    private async Task WaitForSpareAsync(long length)
    {
        var deadline = Stopwatch.StartNew();
        while (!await SpareIsAsync(length))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), $"no spare of {length} bytes at {Spare}");
            await Task.Delay(10);
        }
    }

    private async Task<bool> SpareIsAsync(long length)
    {
        try
        {
            return File.Exists(Spare) && new FileInfo(Spare).Length == length && (await File.ReadAllBytesAsync(Spare)).All(b => b == 0);
        }
        catch (IOException)
        {
            // Still being written: the store holds it exclusively until it is flushed.
            return false;
        }
    }

    // A second name for the spare's file: whatever is later written into that file shows through it.
    private string LinkToSpare()
    {
        string link = Path.Combine(_root, "spare-link");
        using var ln = Process.Start(new ProcessStartInfo("ln", [Spare, link]) { UseShellExecute = false })!;
        ln.WaitForExit();
        Assert.Equal(0, ln.ExitCode);
        return link;
    }

    [Fact]
    public async Task The_next_model_of_the_same_length_is_written_over_the_spare_and_a_new_spare_follows()
    {
        if (OperatingSystem.IsWindows()) return;
        var store = new ModelStore(_root);
        await store.SaveAsync(Run, 1, Model(1f), CancellationToken.None);
        long length = new FileInfo(store.PathOf(Run, 1)).Length;
        await WaitForSpareAsync(length);
        string link = LinkToSpare();

        await store.SaveAsync(Run, 2, Model(2f), CancellationToken.None);

        // The round's file is the spare's file, renamed: the link to it reads the model's bytes.
        byte[] saved = await File.ReadAllBytesAsync(store.PathOf(Run, 2));
        Assert.Equal(saved, await File.ReadAllBytesAsync(link));
        Assert.Equal(2f, (await new ModelStore(_root).LoadAsync(Run, 2, CancellationToken.None))!["w"].AsFloat32()[999]);
        Assert.Equal(1f, (await new ModelStore(_root).LoadAsync(Run, 1, CancellationToken.None))!["w"].AsFloat32()[0]);
        await WaitForSpareAsync(length);

        // The run over: its spare goes.
        await store.CloseRunAsync(Run);
        Assert.False(File.Exists(Spare));
        Assert.True(File.Exists(store.PathOf(Run, 2)));
    }

    [Fact]
    public async Task A_model_of_another_length_is_written_as_a_new_file_and_the_spare_takes_its_length()
    {
        if (OperatingSystem.IsWindows()) return;
        var store = new ModelStore(_root);
        await store.SaveAsync(Run, 1, Model(1f), CancellationToken.None);
        await WaitForSpareAsync(new FileInfo(store.PathOf(Run, 1)).Length);
        string link = LinkToSpare();

        await store.SaveAsync(Run, 2, Model(2f, values: 1500), CancellationToken.None);

        Assert.Equal(1500, (await new ModelStore(_root).LoadAsync(Run, 2, CancellationToken.None))!["w"].AsFloat32().Length);
        // The old spare was not renamed to the round's file: its file is the spare again, made over at the new length.
        long length = new FileInfo(store.PathOf(Run, 2)).Length;
        await WaitForSpareAsync(length);
        byte[] linked = await File.ReadAllBytesAsync(link);
        Assert.Equal(length, linked.Length);
        Assert.All(linked, b => Assert.Equal(0, b));
        await store.CloseRunAsync(Run);
    }

    [Fact]
    public async Task A_save_over_a_spare_returns_before_its_flush_and_the_next_save_and_the_runs_flush_wait_for_it()
    {
        if (OperatingSystem.IsWindows()) return;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var flushed = new List<string>();
        var store = new ModelStore(_root, true, true, ModelStore.StoredCheckpointBytes, path =>
        {
            gate.Task.Wait();
            lock (flushed) flushed.Add(Path.GetFileName(path));
            ParameterSetFile.FlushData(path);
        });
        // Round 1 is a new file, flushed before its rename as always; round 2 goes over the spare made after it.
        await store.SaveAsync(Run, 1, Model(1f), CancellationToken.None);
        await WaitForSpareAsync(new FileInfo(store.PathOf(Run, 1)).Length);
        await store.SaveAsync(Run, 2, Model(2f), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        // In place under its name while its flush waits: a crash of the process would keep it.
        Assert.Equal(2f, (await new ModelStore(_root).LoadAsync(Run, 2, CancellationToken.None))!["w"].AsFloat32()[0]);
        var runFlushed = store.FlushAsync(Run);
        var third = store.SaveAsync(Run, 3, Model(3f), CancellationToken.None);
        await Task.Delay(300);
        // The next spare waits for the flush too (one flush at a time behind the rounds).
        Assert.False(File.Exists(Spare));
        Assert.False(runFlushed.IsCompleted, "the run's flush finished before the model's");
        Assert.False(third.IsCompleted, "the next save went ahead of the last one's flush");
        Assert.False(File.Exists(store.PathOf(Run, 3)));

        gate.SetResult();
        await runFlushed.WaitAsync(TimeSpan.FromSeconds(10));
        await third.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3f, (await new ModelStore(_root).LoadAsync(Run, 3, CancellationToken.None))!["w"].AsFloat32()[0]);
        await store.FlushAsync(Run).WaitAsync(TimeSpan.FromSeconds(10));
        lock (flushed) Assert.Equal([Path.GetFileName(store.PathOf(Run, 2)), Path.GetFileName(store.PathOf(Run, 3))], flushed);
        await store.CloseRunAsync(Run);
        Assert.False(File.Exists(Spare));
    }

    [Fact]
    public async Task A_flush_that_fails_fails_the_runs_flush_and_its_next_save_and_the_run_still_closes()
    {
        if (OperatingSystem.IsWindows()) return;
        var store = new ModelStore(_root, true, true, ModelStore.StoredCheckpointBytes, path => throw new IOException($"fdatasync failed for {Path.GetFileName(path)}: Input/output error"));
        await store.SaveAsync(Run, 1, Model(1f), CancellationToken.None);
        await WaitForSpareAsync(new FileInfo(store.PathOf(Run, 1)).Length);
        await store.SaveAsync(Run, 2, Model(2f), CancellationToken.None);

        string expected = $"fdatasync failed for {Path.GetFileName(store.PathOf(Run, 2))}: Input/output error";
        Assert.Equal(expected, (await Assert.ThrowsAsync<IOException>(() => store.FlushAsync(Run))).Message);
        Assert.Equal(expected, (await Assert.ThrowsAsync<IOException>(() => store.SaveAsync(Run, 3, Model(3f), CancellationToken.None))).Message);
        Assert.False(File.Exists(store.PathOf(Run, 3)));
        Assert.False(File.Exists(Spare)); // none is made after a failed flush

        // The run ends (failed): closing it neither throws the flush's error again nor leaves a spare.
        await store.CloseRunAsync(Run);
        Assert.False(File.Exists(Spare));
        await store.FlushAsync(Run);
    }

    [Fact]
    public async Task Closing_a_run_removes_the_spares_an_earlier_process_left_in_its_folder()
    {
        var earlier = new ModelStore(_root);
        await earlier.SaveAsync(Run, 1, Model(1f), CancellationToken.None);
        await WaitForSpareAsync(new FileInfo(Path.Combine(_root, Run, "round-0001.cps")).Length);
        await File.WriteAllBytesAsync(Path.Combine(_root, Run, "state.spare"), new byte[64]);
        // The earlier process is gone without closing the run (a crash); the next one ends the run without saving anything.
        var next = new ModelStore(_root);

        await next.CloseRunAsync(Run);

        Assert.False(File.Exists(Spare));
        Assert.False(File.Exists(Path.Combine(_root, Run, "state.spare")));
        Assert.True(File.Exists(Path.Combine(_root, Run, "round-0001.cps")));
    }

    [Fact]
    public async Task A_store_that_does_not_flush_keeps_no_spare()
    {
        var store = new ModelStore(_root, flushToDisk: false);
        await store.SaveAsync(Run, 1, Model(1f), CancellationToken.None);
        await store.SaveAsync(Run, 2, Model(2f), CancellationToken.None);
        await Task.Delay(200);
        Assert.False(File.Exists(Spare));
        Assert.Equal(2f, (await store.LoadAsync(Run, 2, CancellationToken.None))!["w"].AsFloat32()[0]);
    }
}
