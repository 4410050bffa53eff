using System.Collections.Concurrent;
using System.Globalization;
using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// What a node's result must satisfy beyond its tensors' shapes, whoever sent it: example counts within
/// the plan's cap and consistent with what the node reported earlier in the run, a finite loss, and
/// metrics that are finite, few and plainly named. One instance per server (or in-process run) keeps the
/// counts each node reported, per run and phase. Every method returns null when the result is
/// acceptable, else the reason, which the caller records as the task's failure.
/// </summary>
internal sealed class ResultValidator
{
    /// <summary>Most metrics one result may carry.</summary>
    public const int MaxMetrics = 64;

    /// <summary>Longest metric name.</summary>
    public const int MaxMetricNameLength = 64;

    /// <summary>
    /// Most characters of text all of one result's metrics may hold together (a score histogram's two strings take about
    /// 2,000): every result's metrics are stored and shown on the run's pages.
    /// </summary>
    public const int MaxMetricText = 64 * 1024;

    /// <summary>The same for a statistics result, which carries a site's statistics as JSON text, once per run.</summary>
    public const int MaxStatisticsText = 4 * 1024 * 1024;

    private readonly ConcurrentDictionary<(string Run, string Node, string Phase), long> _firstExamples = new();

    /// <summary>
    /// Checks a fit or evaluate result. <paramref name="loss"/> is checked when given (an evaluation's
    /// loss, or a fit loss a node chose to report); NaN means none for a fit.
    /// </summary>
    public string? Check(string run, string node, string phase, long examples, double? loss, Metrics metrics, ResultLimits limits)
    {
        if (examples < 0) return $"{examples} examples";
        if (examples > limits.MaxExamples) return $"{examples} examples exceed the plan's failure.max_examples {limits.MaxExamples}";
        if (loss is { } l && !double.IsFinite(l)) return $"loss is {l.ToString(CultureInfo.InvariantCulture)}";
        if (CheckMetrics(metrics, phase == "statistics" ? MaxStatisticsText : MaxMetricText) is { } bad) return bad;
        if (examples > 0)
        {
            long first = _firstExamples.GetOrAdd((run, node, phase), examples);
            double change = Math.Abs(examples - first) / (double)first;
            if (change > limits.ExampleTolerance)
                return $"{examples} {phase} examples, but the node reported {first} earlier in this run (a change of {change:P0} exceeds failure.example_tolerance {limits.ExampleTolerance})";
        }
        return null;
    }

    /// <summary>
    /// Checks metric count, names ([A-Za-z0-9_.:-], at most <see cref="MaxMetricNameLength"/>), that numbers are finite
    /// and that text values hold at most <paramref name="maxText"/> characters together.
    /// </summary>
    public static string? CheckMetrics(Metrics metrics, int maxText = MaxMetricText)
    {
        if (metrics.Count > MaxMetrics) return $"{metrics.Count} metrics exceed the limit of {MaxMetrics}";
        long text = 0;
        foreach (var (name, value) in metrics)
        {
            if (name.Length == 0 || name.Length > MaxMetricNameLength)
                return $"metric name of {name.Length} characters (1 to {MaxMetricNameLength} allowed)";
            foreach (char c in name)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ':' or '-'))
                    return $"metric name '{Printable(name)}' has character U+{(int)c:X4} (allowed: A-Z a-z 0-9 _ . : -)";
            }
            if (value.IsNumber && !double.IsFinite(value.AsDouble())) return $"metric '{name}' is {value.AsDouble().ToString(CultureInfo.InvariantCulture)}";
            if (value.Kind == ScalarKind.String && (text += value.AsString().Length) > maxText)
                return $"metrics hold more than {maxText.ToString("N0", CultureInfo.InvariantCulture)} characters of text (at '{name}')";
        }
        return null;
    }

    /// <summary>Forgets a finished run's counts.</summary>
    public void Forget(string run)
    {
        foreach (var key in _firstExamples.Keys)
        {
            if (key.Run == run) _firstExamples.TryRemove(key, out _);
        }
    }

    private static string Printable(string name)
    {
        var chars = name.Take(MaxMetricNameLength).Select(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or ':' or '-' ? c : '?');
        return new string(chars.ToArray());
    }
}

/// <summary>The plan's bounds on reported example counts (plan section <c>failure</c>).</summary>
/// <param name="MaxExamples">Most examples one result may claim (<c>failure.max_examples</c>).</param>
/// <param name="ExampleTolerance">Largest relative change from the node's first count in the run, per phase (<c>failure.example_tolerance</c>).</param>
public sealed record ResultLimits(long MaxExamples = ResultLimits.DefaultMaxExamples, double ExampleTolerance = ResultLimits.DefaultExampleTolerance)
{
    /// <summary>Default cap: a billion examples, far beyond one site's data, far below what would swamp a weighted sum.</summary>
    public const long DefaultMaxExamples = 1_000_000_000;

    /// <summary>Default tolerance: a node's count may change by half (a resampled or grown dataset), not by orders of magnitude.</summary>
    public const double DefaultExampleTolerance = 0.5;

    /// <summary>The defaults.</summary>
    public static ResultLimits Default { get; } = new();
}
