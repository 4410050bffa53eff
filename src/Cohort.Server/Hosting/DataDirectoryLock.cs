using Cohort.Engine.State;
using Cohort.Server.State;

namespace Cohort.Server.Hosting;

/// <summary>
/// Exclusive use of a data folder by one server process: DATA_DIR/server.lock held open with
/// FileShare.None (an flock on Linux), released when the process ends however it ends. Two servers on
/// one folder would both resume its runs and overwrite each other's state.
/// </summary>
internal sealed class DataDirectoryLock : IDisposable
{
    private readonly FileStream _file;

    private DataDirectoryLock(FileStream file) => _file = file;

    /// <summary>The lock file's name inside the data folder.</summary>
    public const string FileName = "server.lock";

    /// <summary>Takes the lock, or throws <see cref="StateIntegrityException"/> naming the folder when another process holds it.</summary>
    public static DataDirectoryLock Acquire(string dataDir)
    {
        string path = Path.Combine(dataDir, FileName);
        try
        {
            var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            file.SetLength(0);
            using (var writer = new StreamWriter(file, leaveOpen: true)) writer.Write($"{Environment.ProcessId}\n");
            file.Flush();
            return new DataDirectoryLock(file);
        }
        catch (IOException e)
        {
            string holder = "";
            try
            {
                using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                holder = new StreamReader(reader).ReadToEnd().Trim();
            }
            catch (IOException)
            {
            }
            throw new StateIntegrityException(
                $"data folder {dataDir} is in use by another Cohort server{(holder.Length > 0 ? $" (process {holder})" : "")}: it holds {path}; stop it first or give this server another --data-dir", e);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}
