using Cohort.Strategies;

namespace Cohort.Plans;

/// <summary>Reads and validates YAML plans.</summary>
public static class PlanParser
{
    /// <summary>Parses plan text; <paramref name="source"/> names it in errors.</summary>
    public static Plan Parse(string yaml, string source, StrategyRegistry strategies) =>
        throw new NotImplementedException("plan parser pending");

    /// <summary>Reads and parses a plan file.</summary>
    public static Plan ParseFile(string path, StrategyRegistry strategies)
    {
        if (!File.Exists(path)) throw new PlanException(path, 0, 0, "file not found");
        return Parse(File.ReadAllText(path), path, strategies);
    }
}
