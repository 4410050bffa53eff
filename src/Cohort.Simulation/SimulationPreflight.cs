using Cohort.Apps;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Simulation;

/// <summary>
/// The preflight a deployed server runs on its nodes, run on a simulation's data before round 1: the
/// app checks the plan's settings against each data file its virtual clients are drawn from (or the
/// settings alone for synthetic data), and every problem is reported at once. An app that cannot train under the plan's
/// strategy says so first, alone.
/// </summary>
internal static class SimulationPreflight
{
    /// <summary>Every problem found, once: a problem every file shares is listed once, others name their file once (with the line where known).</summary>
    public static IReadOnlyList<string> Check(IClientAppFactory factory, Plan plan, string baseDirectory)
    {
        if (StrategyLimits.RefusalOf(factory, plan.Strategy.Name) is { } refusal) return [refusal];
        if (factory is not IValidatingClientApp validating || plan.Simulation is not { } spec) return [];
        var files = new List<string>();
        if (spec.Data.TryGetValue("files", out var list)) files.AddRange(list.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        else if (spec.Data.TryGetValue("path", out var path)) files.Add(path.ToString());
        var found = new List<(string? File, IReadOnlyList<string> Problems)>();
        if (files.Count == 0)
        {
            found.Add((null, Validate(validating, plan, Config.Empty)));
        }
        else
        {
            foreach (var f in files)
            {
                string full = Path.GetFullPath(Path.IsPathRooted(f) ? f : Path.Combine(baseDirectory, f));
                // A missing file is the data loader's to report, with the plan position of simulation.data.
                if (!File.Exists(full)) continue;
                found.Add((Path.GetFileName(full), Validate(validating, plan, new Config([KeyValuePair.Create("data", Scalar.Of(full))]))));
            }
        }
        if (found.Count == 0) return [];
        var problems = new List<string>();
        var shared = found.Select(x => x.Problems).Aggregate((a, b) => a.Intersect(b, StringComparer.Ordinal).ToArray());
        problems.AddRange(shared);
        foreach (var (file, list2) in found)
            problems.AddRange(list2.Except(shared, StringComparer.Ordinal).Select(p => file is null || p.StartsWith($"{file}:", StringComparison.Ordinal) ? p : $"{file}: {p}"));
        return problems;
    }

    private static IReadOnlyList<string> Validate(IValidatingClientApp validating, Plan plan, Config nodeSettings)
    {
        try
        {
            // The data is the user's own here: each problem is told with the values and lines behind it, in place of the server's
            // wording. An app that does not read QuoteData still writes them to its site log: they are shown after its problems.
            var details = new List<string>();
            var problems = validating.Validate(new ClientAppContext("preflight", "simulation", plan.App.Settings, nodeSettings) { SiteLog = details.Add, QuoteData = true });
            return [.. problems, .. details];
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return [$"the app's check failed: {e.Message}"];
        }
    }
}
