namespace Cohort.Cli.Demo;

/// <summary>A packaged demo: a plan from examples/ and the sites (node name and data file) that run it.</summary>
public sealed record DemoSpec(string Name, string Description, string PlanFile, string App, IReadOnlyList<(string Node, string DataFile)> Sites)
{
    /// <summary>The demos this build knows.</summary>
    public static IReadOnlyList<DemoSpec> All { get; } =
    [
        new("heart-disease", "Four real hospitals (UCI Heart Disease, FLamby protocol), logistic regression",
            "examples/heart-disease/plan.yaml", "tabular",
            [
                ("cleveland", "examples/heart-disease/data/processed.cleveland.data"),
                ("hungarian", "examples/heart-disease/data/processed.hungarian.data"),
                ("switzerland", "examples/heart-disease/data/processed.switzerland.data"),
                ("va", "examples/heart-disease/data/processed.va.data"),
            ]),
    ];

    /// <summary>Finds the repository folder holding examples/ (from the working folder or the program's own folder).</summary>
    public static string FindRoot(string relativeFile)
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, relativeFile))) return dir.FullName;
            }
        }
        throw new CliException($"cannot find {relativeFile}: run from the Cohort repository");
    }
}
