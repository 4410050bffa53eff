using System.Globalization;
using Cohort.Records;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// Typed reads of a partitioner's plan parameters that throw <see cref="PartitionerException"/> naming
/// the key and what is allowed; keys under a prefix ("classes.") are read as a group.
/// </summary>
public sealed class PartitionerParameters(string partitioner, Config values)
{
    /// <summary>The partitioner these parameters belong to (for messages).</summary>
    public string Partitioner { get; } = partitioner;

    /// <summary>The raw values.</summary>
    public Config Values { get; } = values;

    /// <summary>True when <paramref name="key"/> is given.</summary>
    public bool Has(string key) => Values.ContainsKey(key);

    /// <summary>A number, <paramref name="fallback"/> when absent; <paramref name="valid"/> describes the allowed range in <paramref name="allowed"/>.</summary>
    public double Number(string key, double fallback, Func<double, bool> valid, string allowed)
    {
        if (!Values.TryGetValue(key, out var v)) return fallback;
        double d;
        if (v.IsNumber) d = v.AsDouble();
        else if (v.Kind == ScalarKind.String && double.TryParse(v.AsString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double p)) d = p;
        else throw Error(key, $"'{v}' is not a number ({allowed})");
        if (!double.IsFinite(d) || !valid(d)) throw Error(key, $"{d.ToString(CultureInfo.InvariantCulture)} is not allowed ({allowed})");
        return d;
    }

    /// <summary>A required number.</summary>
    public double RequiredNumber(string key, Func<double, bool> valid, string allowed) =>
        Has(key) ? Number(key, 0, valid, allowed) : throw Error(key, $"is missing ({allowed})");

    /// <summary>An integer of at least <paramref name="min"/>, <paramref name="fallback"/> when absent.</summary>
    public int Int(string key, int fallback, int min)
    {
        if (!Values.TryGetValue(key, out var v)) return fallback;
        long n;
        if (v.Kind == ScalarKind.Int) n = v.AsInt();
        else if (v.Kind == ScalarKind.String && long.TryParse(v.AsString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long p)) n = p;
        else throw Error(key, $"'{v}' is not an integer (must be >= {min})");
        if (n < min || n > int.MaxValue) throw Error(key, $"{n} is not allowed (must be >= {min})");
        return (int)n;
    }

    /// <summary>A non-empty text, <paramref name="fallback"/> when absent.</summary>
    public string? Text(string key, string? fallback)
    {
        if (!Values.TryGetValue(key, out var v)) return fallback;
        string s = v.ToString().Trim();
        if (s.Length == 0) throw Error(key, "must not be empty");
        return s;
    }

    /// <summary>One of <paramref name="allowed"/> (ignoring case), <paramref name="fallback"/> when absent.</summary>
    public string Choice(string key, IReadOnlyList<string> allowed, string fallback)
    {
        string s = Text(key, fallback)!;
        foreach (var a in allowed)
            if (string.Equals(a, s, StringComparison.OrdinalIgnoreCase)) return a;
        throw Error(key, $"'{s}' is not allowed (allowed: {string.Join(", ", allowed)})");
    }

    /// <summary>The entries under <paramref name="prefix"/> ("classes" → "classes.agent01"), as (suffix, comma-separated items).</summary>
    public IReadOnlyList<(string Name, string Key, string[] Items)> Group(string prefix)
    {
        var result = new List<(string, string, string[])>();
        foreach (var key in Values.Keys)
        {
            if (!key.StartsWith(prefix + ".", StringComparison.Ordinal)) continue;
            var items = Values[key].ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            result.Add((key[(prefix.Length + 1)..], key, items));
        }
        return result;
    }

    /// <summary>Throws for a key outside <paramref name="known"/> (a prefix entry like "classes." covers its group).</summary>
    public void RejectUnknown(IReadOnlyList<string> known)
    {
        foreach (var key in Values.Keys.Order(StringComparer.Ordinal))
        {
            bool ok = false;
            foreach (var k in known) ok |= k.EndsWith('.') ? key.StartsWith(k, StringComparison.Ordinal) : key == k;
            if (!ok) throw Error(key, $"is not a parameter of partitioner '{Partitioner}' (allowed: {(known.Count == 0 ? "none" : string.Join(", ", known.Select(k => k.EndsWith('.') ? k + "<name>" : k)))})");
        }
    }

    /// <summary>An error about <paramref name="key"/>.</summary>
    public PartitionerException Error(string key, string problem) => new(key, $"partitioner '{Partitioner}' parameter '{key}': {problem}");
}
