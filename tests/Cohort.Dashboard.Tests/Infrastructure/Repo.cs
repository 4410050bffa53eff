namespace Cohort.Dashboard.Tests.Infrastructure;

/// <summary>Paths inside the repository.</summary>
public static class Repo
{
    /// <summary>The folder holding Cohort.slnx.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>A heart-disease hospital file.</summary>
    public static string HeartData(string hospital) => Path.Combine(Root, "examples", "heart-disease", "data", $"processed.{hospital}.data");

    /// <summary>The heart-disease plan text.</summary>
    public static string HeartPlan => File.ReadAllText(Path.Combine(Root, "examples", "heart-disease", "plan.yaml"));

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Cohort.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException("Cohort.slnx not found above " + AppContext.BaseDirectory);
    }
}
