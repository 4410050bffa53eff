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
                (plans.Count > 0 ? $" (plan files there: {string.Join(", ", plans)}{(plans.Count == MaxNamed ? ", ..." : "")})" : " (give the plan's YAML file)"));
        }
        if (!File.Exists(path)) throw new CliException($"plan file '{path}' not found");
    }

    private const int MaxNamed = 5;

    // The folder's own YAML files, else its sub-folders' plan.yaml (as examples/ holds them), a few at most.
    private static List<string> PlansIn(string folder)
    {
        try
        {
            var own = Directory.EnumerateFiles(folder).Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase));
            var nested = Directory.EnumerateDirectories(folder).Select(d => Path.Combine(d, "plan.yaml")).Where(File.Exists);
            var found = own.Order(StringComparer.Ordinal).ToList();
            return [.. (found.Count > 0 ? found : nested.Order(StringComparer.Ordinal)).Take(MaxNamed)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
