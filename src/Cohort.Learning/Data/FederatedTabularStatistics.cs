using System.Globalization;
using System.Text.Json;

namespace Cohort.Learning.Data;

/// <summary>
/// The statistics of every site's training rows together, as the server forms them from the sites'
/// <see cref="TabularStatistics"/> and sends them back with every task: global row and class counts,
/// each numeric feature's count, sum and sum of squares, and each categorical column's vocabulary
/// (values whose global count reaches the minimum, then <see cref="OtherCategory"/>, into which rarer
/// and unseen values fold) with the count of each entry.
/// </summary>
internal sealed record FederatedTabularStatistics
{
    /// <summary>The category every value below the minimum count (or never seen in training) is encoded as.</summary>
    public const string OtherCategory = "(other)";

    /// <summary>Training rows of all sites.</summary>
    public long Rows { get; init; }

    /// <summary>Negative training rows of all sites.</summary>
    public long Negatives { get; init; }

    /// <summary>Positive training rows of all sites.</summary>
    public long Positives { get; init; }

    /// <summary>Sites whose statistics were pooled.</summary>
    public int Sites { get; init; }

    /// <summary>The minimum global count a category value needs to be named in a vocabulary.</summary>
    public long MinCategoryCount { get; init; }

    /// <summary>Per numeric feature: the sites' counts, sums and sums of squares added up.</summary>
    public IReadOnlyDictionary<string, NumericMoments> Numeric { get; init; } = new SortedDictionary<string, NumericMoments>(StringComparer.Ordinal);

    /// <summary>Per categorical column: its vocabulary in one-hot order (numbers in numeric order, then text in ordinal order, then <see cref="OtherCategory"/>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Vocabularies { get; init; } = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);

    /// <summary>Per categorical column: the global count of each vocabulary entry, in the same order.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<long>> CategoryCounts { get; init; } = new SortedDictionary<string, IReadOnlyList<long>>(StringComparer.Ordinal);

    /// <summary>The global mean of a numeric feature's present values.</summary>
    public double Mean(string column) => Numeric.TryGetValue(column, out var m) && m.Count > 0 ? m.Sum / m.Count : 0;

    /// <summary>
    /// The sample standard deviation (ddof 1) over all sites' training rows of a numeric feature, with
    /// missing values imputed by the mean (which adds rows but no deviation): what z-scoring all
    /// training rows pooled in one place would divide by.
    /// </summary>
    public double Std(string column)
    {
        if (!Numeric.TryGetValue(column, out var m) || m.Count == 0 || Rows < 2) return 0;
        double squares = m.SumSquares - m.Sum * m.Sum / m.Count;
        return Math.Sqrt(Math.Max(0, squares) / (Rows - 1));
    }

    /// <summary>The JSON sent to nodes.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, StatisticsJson.Default.FederatedTabularStatistics);

    /// <summary>Reads what <see cref="ToJson"/> wrote; throws <see cref="InvalidDataException"/> for anything else.</summary>
    public static FederatedTabularStatistics FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize(json, StatisticsJson.Default.FederatedTabularStatistics) ?? throw new InvalidDataException($"{source}: empty statistics");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: unreadable statistics ({e.Message})", e);
        }
    }

    /// <summary>
    /// Pools the sites' statistics. Every site must have read the same columns, in the same order, with
    /// the same types; otherwise throws <see cref="InvalidDataException"/> with one message naming each
    /// site that differs from the most common schema and how. A category value enters a vocabulary only
    /// when its count over all sites reaches <paramref name="minCategoryCount"/>, so a value rare
    /// everywhere is never named to the sites; declared categories (<paramref name="declared"/>) are kept as declared.
    /// </summary>
    public static FederatedTabularStatistics Aggregate(
        IReadOnlyList<(string Site, TabularStatistics Statistics)> sites, long minCategoryCount,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? declared = null)
    {
        if (sites.Count == 0) throw new InvalidDataException("no site sent statistics");
        CheckSchemas(sites);
        declared ??= new Dictionary<string, IReadOnlyList<string>>();
        var numeric = new SortedDictionary<string, NumericMoments>(StringComparer.Ordinal);
        var counts = new SortedDictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        long rows = 0, negatives = 0, positives = 0;
        // Sites in name order, so the floating-point sums do not depend on arrival order.
        foreach (var (_, s) in sites.OrderBy(s => s.Site, StringComparer.Ordinal))
        {
            rows += s.Rows;
            negatives += s.Negatives;
            positives += s.Positives;
            foreach (var (name, m) in s.Numeric)
                numeric[name] = numeric.TryGetValue(name, out var t) ? new NumericMoments(t.Count + m.Count, t.Sum + m.Sum, t.SumSquares + m.SumSquares) : m;
            foreach (var (name, values) in s.Categories)
            {
                if (!counts.TryGetValue(name, out var total)) counts[name] = total = new Dictionary<string, long>(StringComparer.Ordinal);
                foreach (var (value, n) in values) total[value] = total.GetValueOrDefault(value) + n;
            }
        }
        var vocabularies = new SortedDictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        var vocabularyCounts = new SortedDictionary<string, IReadOnlyList<long>>(StringComparer.Ordinal);
        foreach (var (name, total) in counts)
        {
            if (declared.TryGetValue(name, out var fixedValues))
            {
                vocabularies[name] = fixedValues;
                vocabularyCounts[name] = fixedValues.Select(v => CountOf(total, v)).ToArray();
                continue;
            }
            var kept = total.Where(kv => kv.Value >= minCategoryCount).Select(kv => kv.Key).ToList();
            kept.Sort(CompareCategories);
            long other = total.Where(kv => kv.Value < minCategoryCount).Sum(kv => kv.Value);
            vocabularies[name] = [.. kept, OtherCategory];
            vocabularyCounts[name] = [.. kept.Select(v => total[v]), other];
        }
        return new FederatedTabularStatistics
        {
            Rows = rows,
            Negatives = negatives,
            Positives = positives,
            Sites = sites.Count,
            MinCategoryCount = minCategoryCount,
            Numeric = numeric,
            Vocabularies = vocabularies,
            CategoryCounts = vocabularyCounts,
        };
    }

    // A declared category matches numerically, as the encoder does ("1" and "1.0").
    private static long CountOf(Dictionary<string, long> total, string category)
    {
        if (total.TryGetValue(category, out long n)) return n;
        if (double.TryParse(category, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            return total.TryGetValue(v.ToString("R", CultureInfo.InvariantCulture), out n) ? n : 0;
        return 0;
    }

    // Numbers first in numeric order, then text in ordinal order: the order inferred categories always had.
    private static int CompareCategories(string a, string b)
    {
        bool na = double.TryParse(a, NumberStyles.Float, CultureInfo.InvariantCulture, out double x);
        bool nb = double.TryParse(b, NumberStyles.Float, CultureInfo.InvariantCulture, out double y);
        if (na && nb) return x.CompareTo(y);
        if (na != nb) return na ? -1 : 1;
        return string.CompareOrdinal(a, b);
    }

    private static void CheckSchemas(IReadOnlyList<(string Site, TabularStatistics Statistics)> sites)
    {
        static string Signature(TabularStatistics s) => string.Join("|", s.Schema.Select(c => $"{c.Name}:{c.Type}"));
        // The reference is the schema most sites share (ties: the one of the first site by name).
        var groups = sites.OrderBy(s => s.Site, StringComparer.Ordinal).GroupBy(s => Signature(s.Statistics)).ToList();
        if (groups.Count == 1) return;
        var reference = groups.OrderByDescending(g => g.Count()).First();
        var expected = reference.First().Statistics.Schema;
        var problems = new List<string>();
        foreach (var (site, stats) in sites.OrderBy(s => s.Site, StringComparer.Ordinal))
        {
            if (Signature(stats) == reference.Key) continue;
            problems.Add($"{site}: {string.Join(", ", Differences(expected, stats.Schema))}");
        }
        throw new InvalidDataException(
            $"the nodes' tables do not agree (compared with the columns of {string.Join(", ", reference.Select(r => r.Site))}): {string.Join("; ", problems)}");
    }

    private static IEnumerable<string> Differences(IReadOnlyList<TabularColumnType> expected, IReadOnlyList<TabularColumnType> actual)
    {
        var want = expected.ToDictionary(c => c.Name, c => c.Type, StringComparer.Ordinal);
        var have = actual.ToDictionary(c => c.Name, c => c.Type, StringComparer.Ordinal);
        bool any = false;
        foreach (var c in expected)
        {
            if (!have.TryGetValue(c.Name, out var type)) { any = true; yield return $"no column '{c.Name}'"; }
            else if (type != c.Type) { any = true; yield return $"'{c.Name}' is {type}, not {c.Type}"; }
        }
        foreach (var c in actual)
        {
            if (!want.ContainsKey(c.Name)) { any = true; yield return $"extra column '{c.Name}'"; }
        }
        if (!any) yield return $"columns in another order ({string.Join(", ", actual.Select(c => c.Name))})";
    }
}
