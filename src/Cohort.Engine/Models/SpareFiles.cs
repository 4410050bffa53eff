using System.Collections.Concurrent;
using Cohort.Parameters;

namespace Cohort.Engine.Models;

/// <summary>
/// Files written ahead of the saves that will need them, one per path: zeros of the length the last save through that
/// path had, written and flushed to disk in the background while the next round runs. The next save of the same
/// length writes over blocks already on disk, so its flush waits for no journal commit: on a busy machine that wait
/// (the file system's journal thread getting a core), not the write, is most of what flushing a new file costs. A
/// save whose spare is of another length, or could not be written, writes a new file as before.
/// </summary>
internal sealed class SpareFiles
{
    private readonly ConcurrentDictionary<string, Task<bool>> _spares = new(StringComparer.Ordinal);

    /// <summary>
    /// Writes <paramref name="parameters"/> over the spare at <paramref name="spare"/>, flushes their data and renames the
    /// spare to <paramref name="path"/>; false, having written nothing, when there is no spare of their length. A spare
    /// still being written is waited for: its flush began before the one a new file would start now.
    /// </summary>
    public async Task<bool> TryWriteAsync(string spare, string path, ParameterSet parameters, CancellationToken ct)
    {
        if (!_spares.TryGetValue(spare, out var pending) || !await pending.WaitAsync(ct)) return false;
        if (!_spares.TryRemove(KeyValuePair.Create(spare, pending))) return false;
        try
        {
            if (!ParameterSetFile.TryWriteOver(spare, parameters)) return false;
            // As for a new file: the data is on disk before the rename.
            File.Move(spare, path, overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The spare gone or unwritable: the save writes a new file instead (and fails there if the disk does).
            return false;
        }
    }

    /// <summary>Waits for the spares being written under <paramref name="folder"/> and deletes every spare there (a run that ended).</summary>
    public async Task RemoveUnderAsync(string folder)
    {
        string prefix = Path.TrimEndingDirectorySeparator(folder) + Path.DirectorySeparatorChar;
        foreach (var (spare, pending) in _spares.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)).ToArray())
        {
            await pending;
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

    /// <summary>Starts writing a spare of <paramref name="length"/> bytes at <paramref name="spare"/>, unless one is being written.</summary>
    public void Prepare(string spare, long length)
    {
        if (_spares.TryGetValue(spare, out var pending) && !pending.IsCompleted) return;
        _spares[spare] = Task.Run(() =>
        {
            try
            {
                ParameterSetFile.WriteSpare(spare, length);
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
            {
                // The run's folder gone, the disk full: the next save writes a new file, and says so if it cannot either.
                return false;
            }
        });
    }
}
