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

    /// <summary>
    /// The folder holding this demo's files: the repository's (from the working folder upwards, then from the
    /// program's own folder), or else the copy built into the program, written under <paramref name="outDir"/>.
    /// </summary>
    public string Locate(string outDir) => Locate(outDir, SearchFrom);

    /// <summary>The demo's plan text, from where <see cref="Locate(string)"/> would take it, without writing anything.</summary>
    public string ReadPlan() => ReadPlan(SearchFrom);

    /// <summary>As <see cref="ReadPlan()"/>, looking for examples/ from each of <paramref name="searchFrom"/> upwards.</summary>
    internal string ReadPlan(IEnumerable<string> searchFrom)
    {
        if (FindOnDisk(PlanFile, searchFrom) is { } root) return File.ReadAllText(Path.Combine(root, PlanFile));
        if (!BuiltIn()) throw NotFound();
        using var reader = new StreamReader(typeof(DemoSpec).Assembly.GetManifestResourceStream(PlanFile)!);
        return reader.ReadToEnd();
    }

    private static string[] SearchFrom => [Directory.GetCurrentDirectory(), AppContext.BaseDirectory];

    private string[] Files => [PlanFile, .. Sites.Select(s => s.DataFile).Where(f => f.Length > 0)];

    private bool BuiltIn() => Files.All(f => typeof(DemoSpec).Assembly.GetManifestResourceInfo(f) is not null);

    private CliException NotFound() => new($"cannot find {PlanFile}, and the '{Name}' demo's data is not built into this program: run it from a clone of the " +
        "Cohort repository, or from a folder holding its examples/ folder");

    /// <summary>As <see cref="Locate(string)"/>, looking for examples/ from each of <paramref name="searchFrom"/> upwards.</summary>
    internal string Locate(string outDir, IEnumerable<string> searchFrom)
    {
        if (FindOnDisk(PlanFile, searchFrom) is { } root) return root;
        var assembly = typeof(DemoSpec).Assembly;
        if (!BuiltIn()) throw NotFound();
        foreach (var file in Files)
        {
            string path = Path.Combine(outDir, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var source = assembly.GetManifestResourceStream(file)!;
            using var target = File.Create(path);
            source.CopyTo(target);
        }
        Console.WriteLine($"no examples/ folder here: using the copy of {Path.GetDirectoryName(PlanFile)} built into this program, written to {Path.Combine(outDir, "examples")}");
        return outDir;
    }

    private static string? FindOnDisk(string relativeFile, IEnumerable<string> searchFrom)
    {
        foreach (var start in searchFrom)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, relativeFile))) return dir.FullName;
            }
        }
        return null;
    }
}
