using System.Globalization;
using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// Typed reads from a flat <see cref="Config"/> (plan sequences arrive comma-joined, nested maps as
/// dotted keys) that throw <see cref="AppConfigurationException"/> naming the key, and remember which
/// keys were read so unknown ones (typos) can be reported.
/// </summary>
internal sealed class SettingsReader(Config config, string what)
{
    private readonly HashSet<string> _known = new(StringComparer.Ordinal);
    private readonly List<string> _knownPrefixes = [];

    public bool Has(string key)
    {
        _known.Add(key);
        return config.ContainsKey(key);
    }

    public string RequiredString(string key, string meaning)
    {
        _known.Add(key);
        // A misspelt required key reads as missing: name the setting that was likely meant for it.
        if (!config.TryGetValue(key, out var v)) throw Error(key, $"is missing (required: {meaning}){NearestName.Slip(key, config.Keys.Where(k => !_known.Contains(k)))}");
        string s = v.ToString().Trim();
        if (s.Length == 0) throw Error(key, $"is empty (required: {meaning})");
        return s;
    }

    public string String(string key, string fallback)
    {
        _known.Add(key);
        return config.TryGetValue(key, out var v) ? v.ToString().Trim() : fallback;
    }

    public string OneOf(string key, IReadOnlyList<string> allowed, string fallback)
    {
        string s = String(key, fallback);
        foreach (var a in allowed)
            if (string.Equals(a, s, StringComparison.OrdinalIgnoreCase)) return a;
        throw Error(key, $"is '{s}'; allowed: {string.Join(", ", allowed)}");
    }

    public bool Bool(string key, bool fallback)
    {
        _known.Add(key);
        if (!config.TryGetValue(key, out var v)) return fallback;
        if (v.Kind == ScalarKind.Bool) return v.AsBool();
        if (v.Kind == ScalarKind.String && bool.TryParse(v.AsString().Trim(), out bool b)) return b;
        throw Error(key, $"is '{v}'; expected true or false");
    }

    public long Int(string key, long fallback, long min = long.MinValue, long max = long.MaxValue)
    {
        _known.Add(key);
        if (!config.TryGetValue(key, out var v)) return fallback;
        long n;
        if (v.Kind == ScalarKind.Int || (v.Kind == ScalarKind.Double && Math.Floor(v.AsDouble()) == v.AsDouble() && Math.Abs(v.AsDouble()) < 9e15)) n = v.AsInt();
        else if (v.Kind == ScalarKind.String && long.TryParse(v.AsString().Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out long p)) n = p;
        else throw Error(key, $"is '{v}'; expected an integer");
        if (n < min || n > max) throw Error(key, max == long.MaxValue ? $"is {n}; expected at least {min}" : $"is {n}; expected {min} to {max}");
        return n;
    }

    public double Double(string key, double fallback, Func<double, bool> valid, string validText)
    {
        _known.Add(key);
        if (!config.TryGetValue(key, out var v)) return fallback;
        double d;
        if (v.IsNumber) d = v.AsDouble();
        else if (v.Kind == ScalarKind.String && double.TryParse(v.AsString().Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double p)) d = p;
        else throw Error(key, $"is '{v}'; expected a number");
        if (!double.IsFinite(d) || !valid(d)) throw Error(key, $"is {d.ToString("R", CultureInfo.InvariantCulture)}; expected {validText}");
        return d;
    }

    /// <summary>A list: a comma-joined string (how plan sequences arrive) or a single scalar.</summary>
    public IReadOnlyList<string>? List(string key)
    {
        _known.Add(key);
        if (!config.TryGetValue(key, out var v)) return null;
        var items = v.ToString().Split(',', StringSplitOptions.TrimEntries);
        if (items.Length == 1 && items[0].Length == 0) return [];
        foreach (var item in items)
            if (item.Length == 0) throw Error(key, $"is '{v}', which has an empty item");
        return items;
    }

    /// <summary>The entries under a dotted prefix ("categorical." → cp, restecg), as lists.</summary>
    public IReadOnlyList<(string Name, IReadOnlyList<string> Values)> Section(string prefix)
    {
        _knownPrefixes.Add(prefix + ".");
        var result = new List<(string, IReadOnlyList<string>)>();
        foreach (var key in config.Keys.Order(StringComparer.Ordinal))
        {
            if (!key.StartsWith(prefix + ".", StringComparison.Ordinal)) continue;
            string name = key[(prefix.Length + 1)..];
            var values = List(key)!;
            if (values.Count == 0) throw Error(key, "declares no values");
            result.Add((name, values));
        }
        return result;
    }

    /// <summary>Throws when the config holds a key nothing read, listing the known keys.</summary>
    public void RejectUnknownKeys()
    {
        foreach (var key in config.Keys.Order(StringComparer.Ordinal))
        {
            if (_known.Contains(key)) continue;
            bool underPrefix = false;
            foreach (var p in _knownPrefixes) underPrefix |= key.StartsWith(p, StringComparison.Ordinal);
            if (underPrefix) continue;
            // Keys starting with '_' are reserved for what the server adds (the federation's statistics): not the user's to set.
            var known = _known.Where(k => !k.StartsWith('_') && !_knownPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal)))
                .Concat(_knownPrefixes.Select(p => p + "<name>"))
                .Order(StringComparer.Ordinal);
            throw new AppConfigurationException($"{what} '{key}' is not known{NearestName.Hint(key, known)}; known: {string.Join(", ", known)}", key) { IsUnknownKey = true };
        }
    }

    public AppConfigurationException Error(string key, string problem) => new($"{what} '{key}' {problem}", key);
}
