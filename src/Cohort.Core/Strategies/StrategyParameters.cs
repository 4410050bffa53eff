using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Typed reading of a strategy's <c>strategy.params</c> with errors that name the strategy, the key
/// and what is allowed, so a bad value fails when the run starts rather than in round 7.
/// </summary>
public sealed class StrategyParameters(string strategy, Config parameters)
{
    /// <summary>A number at <paramref name="key"/> satisfying <paramref name="valid"/> (described by <paramref name="rule"/>), or <paramref name="fallback"/>.</summary>
    public double Number(string key, double fallback, Func<double, bool> valid, string rule)
    {
        if (!parameters.TryGetValue(key, out var v)) return fallback;
        if (!v.IsNumber) throw Invalid(key, v.ToString(), rule);
        double d = v.AsDouble();
        if (!double.IsFinite(d) || !valid(d)) throw Invalid(key, v.ToString(), rule);
        return d;
    }

    /// <summary>An integer at <paramref name="key"/> of at least <paramref name="min"/>, or <paramref name="fallback"/>.</summary>
    public int Int(string key, int fallback, int min)
    {
        if (!parameters.TryGetValue(key, out var v)) return fallback;
        if (v.Kind != ScalarKind.Int || v.AsInt() < min || v.AsInt() > int.MaxValue) throw Invalid(key, v.ToString(), $"an integer >= {min}");
        return (int)v.AsInt();
    }

    /// <summary>A text at <paramref name="key"/>, or <paramref name="fallback"/>.</summary>
    public string String(string key, string fallback) =>
        parameters.TryGetValue(key, out var v) ? v.ToString() : fallback;

    private StrategyParameterException Invalid(string key, string value, string rule) =>
        new(key, $"strategy '{strategy}': params.{key} is {value}, must be {rule}");
}

/// <summary>A strategy parameter with a value the strategy cannot use; <see cref="Key"/> names it.</summary>
public sealed class StrategyParameterException(string key, string message) : ArgumentException(message)
{
    /// <summary>The offending key under <c>strategy.params</c>.</summary>
    public string Key { get; } = key;

    /// <summary>True when the strategy takes no parameter called <see cref="Key"/> (rather than not this value).</summary>
    public bool IsUnknown { get; init; }
}
