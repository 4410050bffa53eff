namespace Cohort.Cli.Commands;

/// <summary>Reads the plan file a command names, saying plainly when the path is a folder or nothing at all.</summary>
internal static class PlanFile
{
    /// <summary>The text of the plan file at <paramref name="path"/> (as typed, which its errors name).</summary>
    public static string Read(string path)
    {
        Check(path);
        return File.ReadAllText(path);
    }

    /// <summary>The text of the plan file at <paramref name="path"/>, read asynchronously.</summary>
    public static Task<string> ReadAsync(string path, CancellationToken ct)
    {
        Check(path);
        return File.ReadAllTextAsync(path, ct);
    }

    private static void Check(string path)
    {
        if (Directory.Exists(path))
        {
            var plans = PlansIn(path);
            throw new CliException($"'{path}' is a folder, not a plan file" +
                (plans.Count > 0 ? $" (YAML files there: {string.Join(", ", plans.Take(MaxNamed))}{(plans.Count > MaxNamed ? ", ..." : "")})" : " (give the plan's YAML file)"));
        }
        if (!File.Exists(path)) throw new CliException($"plan file '{path}' not found");
    }

    private const int MaxNamed = 5;

    // Its sub-folders' plan.yaml (as examples/ holds them), then its own YAML files: one more than are named, to tell that there are more.
    private static List<string> PlansIn(string folder)
    {
        try
        {
            var nested = Directory.EnumerateDirectories(folder).Select(d => Path.Combine(d, "plan.yaml")).Where(File.Exists).Order(StringComparer.Ordinal);
            var own = Directory.EnumerateFiles(folder).Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal);
            return [.. nested.Concat(own).Take(MaxNamed + 1)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
