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
}
