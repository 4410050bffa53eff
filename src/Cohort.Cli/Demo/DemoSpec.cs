namespace Cohort.Cli.Demo;

/// <summary>
/// A packaged demo: a plan from examples/ and the sites (node name and data file) that run it. A
/// partitioned demo gives each node its client's share of the plan's simulation data instead of a
/// file, the server tests the global model centrally on the data set's test set, and a baseline
/// client is also trained alone for comparison.
/// </summary>
internal sealed record DemoSpec(string Name, string Description, string PlanFile, string App, IReadOnlyList<(string Node, string DataFile)> Sites,
    bool Partitioned = false, string? Baseline = null)
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
        new("mnist-non-iid", "STADLE's MNIST demo: three agents with skewed digits (1-3, 4-6, 7-9 and 0, plus 5% of the rest), FL vs agent01 alone",
            "examples/mnist-non-iid/plan.yaml", "mnist",
            [("agent01", ""), ("agent02", ""), ("agent03", "")],
            Partitioned: true, Baseline: "agent01"),
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
