using System.Collections;

namespace Cohort.Records;

/// <summary>An immutable string-keyed map of <see cref="Scalar"/> values with typed getters that name the key on error.</summary>
public abstract class ScalarMap : IReadOnlyDictionary<string, Scalar>
{
    private readonly Dictionary<string, Scalar> _values;

    /// <summary>Copies the given entries.</summary>
    protected ScalarMap(IEnumerable<KeyValuePair<string, Scalar>> values)
    {
        _values = new Dictionary<string, Scalar>(values, StringComparer.Ordinal);
    }

    /// <summary>What the map is called in error messages ("config", "metrics").</summary>
    protected abstract string What { get; }

    /// <inheritdoc />
    public Scalar this[string key] => _values.TryGetValue(key, out var v) ? v : throw new KeyNotFoundException($"{What} has no key '{key}'");

    /// <inheritdoc />
    public IEnumerable<string> Keys => _values.Keys;

    /// <inheritdoc />
    public IEnumerable<Scalar> Values => _values.Values;

    /// <inheritdoc />
    public int Count => _values.Count;

    /// <inheritdoc />
    public bool ContainsKey(string key) => _values.ContainsKey(key);

    /// <inheritdoc />
    public bool TryGetValue(string key, out Scalar value) => _values.TryGetValue(key, out value);

    /// <summary>The double at <paramref name="key"/>, or <paramref name="fallback"/> when absent.</summary>
    public double GetDouble(string key, double fallback) => _values.TryGetValue(key, out var v) ? Convert(key, v, s => s.AsDouble()) : fallback;

    /// <summary>The integer at <paramref name="key"/>, or <paramref name="fallback"/> when absent.</summary>
    public long GetInt(string key, long fallback) => _values.TryGetValue(key, out var v) ? Convert(key, v, s => s.AsInt()) : fallback;

    /// <summary>The boolean at <paramref name="key"/>, or <paramref name="fallback"/> when absent.</summary>
    public bool GetBool(string key, bool fallback) => _values.TryGetValue(key, out var v) ? Convert(key, v, s => s.AsBool()) : fallback;

    /// <summary>The string at <paramref name="key"/>, or <paramref name="fallback"/> when absent.</summary>
    public string GetString(string key, string fallback) => _values.TryGetValue(key, out var v) ? Convert(key, v, s => s.AsString()) : fallback;

    /// <summary>The string at <paramref name="key"/>, or null when absent.</summary>
    public string? GetStringOrNull(string key) => _values.TryGetValue(key, out var v) ? Convert(key, v, s => s.AsString()) : null;

    private T Convert<T>(string key, Scalar value, Func<Scalar, T> get)
    {
        try
        {
            return get(value);
        }
        catch (InvalidCastException e)
        {
            throw new InvalidCastException($"{What} key '{key}': {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, Scalar>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => string.Join(", ", _values.Select(kv => $"{kv.Key}={kv.Value}"));
}

/// <summary>Settings the server sends with a task (learning rate, local epochs, …) or an app's settings from the plan.</summary>
public sealed class Config : ScalarMap
{
    /// <summary>Creates a config from entries.</summary>
    public Config(IEnumerable<KeyValuePair<string, Scalar>> values) : base(values) { }

    /// <summary>An empty config.</summary>
    public static Config Empty { get; } = new(Array.Empty<KeyValuePair<string, Scalar>>());

    /// <summary>A copy with <paramref name="overrides"/> replacing or adding entries.</summary>
    public Config With(IEnumerable<KeyValuePair<string, Scalar>> overrides)
    {
        var d = this.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        foreach (var kv in overrides) d[kv.Key] = kv.Value;
        return new Config(d);
    }

    /// <inheritdoc />
    protected override string What => "config";
}

/// <summary>Numbers (and labels) a client or strategy reports: loss, accuracy, AUC, timings.</summary>
public sealed class Metrics : ScalarMap
{
    /// <summary>Creates metrics from entries.</summary>
    public Metrics(IEnumerable<KeyValuePair<string, Scalar>> values) : base(values) { }

    /// <summary>No metrics.</summary>
    public static Metrics Empty { get; } = new(Array.Empty<KeyValuePair<string, Scalar>>());

    /// <inheritdoc />
    protected override string What => "metrics";
}
