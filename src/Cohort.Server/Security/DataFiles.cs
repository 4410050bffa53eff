namespace Cohort.Server.Security;

/// <summary>Owner-only permissions for the server's data folder and state database.</summary>
internal static class DataFiles
{
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Creates <paramref name="dir"/> readable by its owner only; an existing folder keeps the permissions its owner gave it.</summary>
    public static void EnsureFolder(string dir)
    {
        if (Directory.Exists(dir)) return;
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(dir);
        else Directory.CreateDirectory(dir, OwnerOnlyFolder);
    }

    /// <summary>
    /// Creates <paramref name="file"/> empty and owner-only, or makes an existing one owner-only. SQLite gives
    /// its -wal and -shm files the database file's permissions, so they follow.
    /// </summary>
    public static void EnsureOwnerOnlyFile(string file)
    {
        if (OperatingSystem.IsWindows()) return;
        if (File.Exists(file))
        {
            File.SetUnixFileMode(file, OwnerOnlyFile);
            return;
        }
        using var _ = new FileStream(file, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile });
    }

    /// <summary>
    /// Replaces <paramref name="file"/> with <paramref name="text"/> atomically, owner-only from its first byte: a
    /// temporary file created 0600 beside it, then renamed over it, so a crash leaves the old or the new content.
    /// </summary>
    public static void WriteOwnerOnly(string file, string text)
    {
        string temp = file + ".tmp-" + Guid.NewGuid().ToString("N")[..8];
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerOnlyFile;
        using (var stream = new FileStream(temp, options))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(text);
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }
        File.Move(temp, file, overwrite: true);
    }
}
