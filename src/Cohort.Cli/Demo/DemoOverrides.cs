using System.Globalization;
using Cohort.Plans;
using Cohort.Strategies;
using YamlDotNet.RepresentationModel;

namespace Cohort.Cli.Demo;

/// <summary>
/// A demo's <c>--rounds</c> and <c>--strategy</c> set in its plan, which is parsed with them before the demo's folder is
/// emptied or any process starts: a bad option costs nothing, and the problem it causes names the option and its value.
/// </summary>
internal static class DemoOverrides
{
    /// <summary>
    /// <paramref name="yaml"/> (the demo's plan, <paramref name="planFile"/>) with the options set, once it parses; otherwise
    /// an error naming the option behind each problem.
    /// </summary>
    public static string Apply(string yaml, string planFile, int? rounds, string? strategy)
    {
        var set = new List<(string Option, string Value, string Path)>();
        if (rounds is { } r) set.Add(("--rounds", r.ToString(CultureInfo.InvariantCulture), "rounds"));
        if (strategy is not null) set.Add(("--strategy", strategy, "strategy.name"));
        string applied = set.Count == 0 ? yaml : PlanText.WithValues(yaml, set.Select(s => (s.Path, s.Value)), planFile);
        try
        {
            PlanParser.Parse(applied, planFile, StrategyRegistry.CreateDefault());
        }
        catch (PlanException e)
        {
            throw new CliException(string.Join('\n', e.Errors.Select(error => Blame(error, applied, set, planFile))));
        }
        return applied;
    }

    // Positions in the rewritten text are not the file's: a problem at an option's value names the option, and any
    // other the options that changed the plan (the shipped plan parses without them).
    private static string Blame(PlanException error, string applied, List<(string Option, string Value, string Path)> set, string planFile)
    {
        if (set.Count == 0) return error.Message;
        var root = PlanYamlLoader.LoadRoot(applied, planFile);
        foreach (var (option, value, path) in set)
        {
            if (At(root, path) is { } node && node.Start.Line == error.Line) return $"{option} {value}: {error.Problem}";
        }
        return $"{planFile} with {string.Join(" ", set.Select(s => $"{s.Option} {s.Value}"))}: {error.Problem}";
    }

    private static YamlNode? At(YamlNode root, string path)
    {
        YamlNode? node = root;
        foreach (string part in path.Split('.'))
            node = node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(part), out var child) ? child : null;
        return node;
    }
}
