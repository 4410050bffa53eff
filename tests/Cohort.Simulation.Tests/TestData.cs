using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Simulation.Tests;

/// <summary>A labelled in-memory data set for partitioner tests: labels given, optional groups.</summary>
internal sealed class LabelledData(int[] labels, int classes, DataGroups? groups = null) : ISimulationDataset
{
    /// <summary>n examples per class, classes in blocks (0,0,…,1,1,…).</summary>
    public static LabelledData Balanced(int classes, int perClass)
    {
        var labels = new int[classes * perClass];
        for (int i = 0; i < labels.Length; i++) labels[i] = i / perClass;
        return new LabelledData(labels, classes);
    }

    public string Description => $"{labels.Length} test examples";

    public int Count => labels.Length;

    public int ClassCount => classes;

    public ReadOnlySpan<int> Labels => labels;

    public DataGroups GroupsBy(string by) => groups is not null && by == "site" ? groups : throw new ArgumentException($"no column '{by}' (columns: site)");

    public Task<EvaluateResult?> EvaluateCentralAsync(ParameterSet global, Config config, CancellationToken ct) => Task.FromResult<EvaluateResult?>(null);
}

/// <summary>Locates files of the repository from a test's output folder.</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

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

/// <summary>A temporary folder deleted at the end of a test.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("cohort-sim-test-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
