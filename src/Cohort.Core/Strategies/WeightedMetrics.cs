using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>Example-weighted averages of the numeric metrics several nodes report.</summary>
public sealed class WeightedMetrics
{
    private readonly Dictionary<string, (double Sum, double Weight)> _sums = new(StringComparer.Ordinal);

    /// <summary>Adds one node's metrics with its example count as weight; non-numeric values are skipped.</summary>
    public void Add(Metrics metrics, long examples)
    {
        if (examples <= 0) return;
        foreach (var (key, value) in metrics)
        {
            if (!value.IsNumber) continue;
            _sums.TryGetValue(key, out var s);
            _sums[key] = (s.Sum + value.AsDouble() * examples, s.Weight + examples);
        }
    }

    /// <summary>The weighted means.</summary>
    public Metrics ToMetrics() => new(_sums.Select(kv => KeyValuePair.Create(kv.Key, Scalar.Of(kv.Value.Sum / kv.Value.Weight))));
}
