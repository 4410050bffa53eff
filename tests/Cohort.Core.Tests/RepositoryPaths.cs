namespace Cohort.Tests;

/// <summary>Locates files of the repository (examples, docs) from a test's output folder.</summary>
internal static class RepositoryPaths
{
    /// <summary>The folder holding Cohort.slnx.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A path under the repository root.</summary>
    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cohort.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no Cohort.slnx above {AppContext.BaseDirectory}");
    }
}
