using System.Collections.Concurrent;
using Cohort.Parameters;

namespace Cohort.Engine.Models;

/// <summary>
/// Files written ahead of the saves that will need them, one per path: zeros of the length the last save through that
/// path had, written and flushed to disk in the background while the next round runs. The next save of the same
/// length writes over blocks already on disk, so its flush waits for no journal commit: on a busy machine that wait
/// (the file system's journal thread getting a core), not the write, is most of what flushing a new file costs. A
/// save whose spare is of another length, or could not be written, writes a new file as before.
/// <para>
/// A save over a spare returns once the file is in place under its name (a crash of the process keeps it); on Linux its
/// data is flushed behind it, and the next spare is made after that flush. The next save through the same path waits for
/// the flush first and fails with its error, so at most one file per path is ever written and not yet on disk. Saves
/// through one path come one at a time (a run saves one model, and one strategy state, at a time).
/// </para>
/// </summary>
/// <param name="flush">Flushes a file's data to disk (<see cref="ParameterSetFile.FlushData"/>; a test's may wait or fail).</param>
internal sealed class SpareFiles(Action<string>? flush = null)
{
    private readonly Action<string> _flush = flush ?? ParameterSetFile.FlushData;
    // Per spare path: the spare being made (true once ready), and the flush of the last file written over one.
    private readonly ConcurrentDictionary<string, Task<bool>> _spares = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Task> _flushes = new(StringComparer.Ordinal);

    /// <summary>
    /// Writes <paramref name="parameters"/> over the spare at <paramref name="spare"/>, renames it to <paramref name="path"/>
    /// and starts flushing its data; false, having written nothing, when there is no spare of their length. The flush of
    /// the last save through <paramref name="spare"/> is waited for first (its failure is thrown), and so is a spare still
    /// being written: its flush began before the one a new file would start now.
    /// </summary>
    public async Task<bool> TryWriteAsync(string spare, string path, ParameterSet parameters, CancellationToken ct)
    {
        await FlushedAsync(spare).WaitAsync(ct);
        if (!_spares.TryGetValue(spare, out var pending) || !await pending.WaitAsync(ct)) return false;
        if (!_spares.TryRemove(KeyValuePair.Create(spare, pending))) return false;
        try
        {
            if (!ParameterSetFile.TryWriteOver(spare, parameters)) return false;
            // Elsewhere a flush needs a handle that may write, which a reader of the model (sharing it for reading
            // only) would refuse, or be refused by: there the data is flushed before the rename, as for a new file.
            if (!OperatingSystem.IsLinux()) _flush(spare);
            File.Move(spare, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The spare gone or unwritable: the save writes a new file instead (and fails there if the disk does).
            return false;
        }
        if (OperatingSystem.IsLinux()) _flushes[spare] = Task.Run(() => _flush(path), CancellationToken.None);
        return true;
    }

    /// <summary>Completes once what the last save over <paramref name="spare"/> wrote is on disk; faults with the flush's error.</summary>
    public Task FlushedAsync(string spare) => _flushes.TryGetValue(spare, out var flushing) ? flushing : Task.CompletedTask;

    /// <summary>Waits for the flushes of the saves under <paramref name="folder"/> (a run's), throwing the first one's error.</summary>
    public Task FlushedUnderAsync(string folder) => Task.WhenAll(Under(_flushes, folder).Select(kv => kv.Value));

    /// <summary>Waits for the flushes and spares being written under <paramref name="folder"/> and deletes every spare there (a run that ended).</summary>
    public async Task RemoveUnderAsync(string folder)
    {
        foreach (var (spare, flushing) in Under(_flushes, folder))
        {
            // A failed flush was the run's to report (FlushedUnderAsync, the next save); here the run is over.
            await flushing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _flushes.TryRemove(KeyValuePair.Create(spare, flushing));
        }
        foreach (var (spare, pending) in Under(_spares, folder))
        {
            await ((Task)pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            _spares.TryRemove(KeyValuePair.Create(spare, pending));
            try
            {
                File.Delete(spare);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left behind: the next run of the folder overwrites it.
            }
        }
    }

    private static KeyValuePair<string, T>[] Under<T>(ConcurrentDictionary<string, T> entries, string folder)
    {
        string prefix = Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar;
        return entries.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToArray();
    }

    /// <summary>
    /// Starts writing a spare of <paramref name="length"/> bytes at <paramref name="spare"/>, unless one is being written,
    /// once the last save's flush there is done (one flush at a time behind the rounds).
    /// </summary>
    public void Prepare(string spare, long length)
    {
        if (_spares.TryGetValue(spare, out var pending) && !pending.IsCompleted) return;
        var flushing = FlushedAsync(spare);
        _spares[spare] = Task.Run(async () =>
        {
            // A failed flush is the next save's to throw (FlushedAsync); no spare is made after it.
            await flushing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!flushing.IsCompletedSuccessfully) return false;
            try
            {
                ParameterSetFile.WriteSpare(spare, length);
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
            {
                // The run's folder gone, the disk full: the next save writes a new file.
                return false;
            }
        });
    }
}
