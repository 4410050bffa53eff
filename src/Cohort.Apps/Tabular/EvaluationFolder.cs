namespace Cohort.Apps.Tabular;

/// <summary>
/// The folder a server's plans may name test files in (<c>central_evaluation.file</c>). A plan comes from
/// an operator, who must not make the server read anything else it can read (its admin token, its
/// database, /proc, a device): a file is taken only when it lies under the folder, is reached without
/// links and is at most <see cref="MaxBytes"/> long.
/// </summary>
internal sealed class EvaluationFolder(string folder, bool confined)
{
    /// <summary>The largest test file a server reads.</summary>
    public const long MaxBytes = 1L << 30;

    /// <summary>The full path of <paramref name="file"/>, or an <see cref="InvalidDataException"/> naming what is wrong with it.</summary>
    public string Resolve(string file)
    {
        string root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string path = Path.GetFullPath(file, root);
        if (!confined) return File.Exists(path) ? path : throw new FileNotFoundException($"file '{path}' not found");
        if (Path.EndsInDirectorySeparator(file)) throw new InvalidDataException($"file '{file}' names a folder");
        if (!Within(path, root) || path == root)
            throw new InvalidDataException($"file '{file}' is outside the server's evaluation folder (name a file in it, relative to it; the server's --evaluation-data sets the folder)");
        string current = root;
        foreach (var part in Path.GetRelativePath(root, path).Split(Path.DirectorySeparatorChar))
        {
            current = Path.Combine(current, part);
            FileSystemInfo info = Directory.Exists(current) ? new DirectoryInfo(current) : new FileInfo(current);
            if (!info.Exists) throw new FileNotFoundException($"file '{file}' not found in the server's evaluation folder");
            if (info.LinkTarget is not null) throw new InvalidDataException($"file '{file}': '{part}' is a link; the server's evaluation folder takes no links");
        }
        if (Directory.Exists(path)) throw new InvalidDataException($"file '{file}' is a folder");
        long length = new FileInfo(path).Length;
        if (length > MaxBytes) throw new InvalidDataException($"file '{file}' is {length:N0} bytes; a test file may be at most {MaxBytes:N0}");
        return path;
    }

    /// <summary>
    /// Why <paramref name="folder"/> cannot be the evaluation folder of a server whose data folder is <paramref name="dataDir"/>
    /// (it would let plans name the admin token, the database or the keys); null when it can.
    /// </summary>
    public static string? Overlap(string folder, string dataDir)
    {
        string f = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        string d = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataDir));
        string inside = Path.Combine(d, "evaluation");
        if (Within(d, f))
            return $"the evaluation folder {f} holds the data folder {d} (its admin token, database and keys); name a folder of test files only, such as {inside}";
        if (Within(f, d) && !Within(f, inside))
            return $"the evaluation folder {f} lies in the data folder {d}; use {inside} or a folder outside it";
        return null;
    }

    private static bool Within(string path, string folder) =>
        path == folder || path.StartsWith(Path.EndsInDirectorySeparator(folder) ? folder : folder + Path.DirectorySeparatorChar, StringComparison.Ordinal);
}
