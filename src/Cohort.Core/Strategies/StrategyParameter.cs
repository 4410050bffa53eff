using System.Globalization;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>One parameter a strategy takes under <c>strategy.params</c>: its type, allowed range, default and meaning.</summary>
/// <param name="Name">The plan key ("server_learning_rate").</param>
/// <param name="Type">The kind of value.</param>
/// <param name="Default">The default as documentation shows it ("0.9", "1 / train.learning_rate").</param>
/// <param name="Description">One line on what it does.</param>
public sealed record StrategyParameter(string Name, StrategyParameterType Type, string Default, string Description)
{
    /// <summary>Smallest allowed value, or null for none.</summary>
    public double? Minimum { get; init; }

    /// <summary>True when <see cref="Minimum"/> itself is not allowed.</summary>
    public bool MinimumExclusive { get; init; }

    /// <summary>Largest allowed value, or null for none.</summary>
    public double? Maximum { get; init; }

    /// <summary>True when <see cref="Maximum"/> itself is not allowed.</summary>
    public bool MaximumExclusive { get; init; }

    /// <summary>A number parameter; bounds are optional, exclusive where said.</summary>
    public static StrategyParameter Number(string name, double @default, string description,
        double? min = null, bool minExclusive = false, double? max = null, bool maxExclusive = false) =>
        new(name, StrategyParameterType.Number, Format(@default), description)
        {
            Minimum = min,
            MinimumExclusive = minExclusive,
            Maximum = max,
            MaximumExclusive = maxExclusive,
        };

    /// <summary>An integer parameter of at least <paramref name="min"/>.</summary>
    public static StrategyParameter Integer(string name, long @default, string description, long min) =>
        new(name, StrategyParameterType.Integer, @default.ToString(CultureInfo.InvariantCulture), description) { Minimum = min };

    /// <summary>A text parameter.</summary>
    public static StrategyParameter Text(string name, string @default, string description) =>
        new(name, StrategyParameterType.Text, @default, description);

    /// <summary>A true/false parameter.</summary>
    public static StrategyParameter Bool(string name, bool @default, string description) =>
        new(name, StrategyParameterType.Bool, @default ? "true" : "false", description);

    /// <summary>What a value must be, as errors word it: "a number in [0, 1)", "an integer >= 1".</summary>
    public string Rule => Type switch
    {
        StrategyParameterType.Text => "a text",
        StrategyParameterType.Bool => "true or false",
        StrategyParameterType.Integer => Range("an integer"),
        _ => Range("a number"),
    };

    /// <summary>True when <paramref name="value"/> has the right type and lies in the range.</summary>
    public bool Accepts(Scalar value)
    {
        switch (Type)
        {
            case StrategyParameterType.Text:
                return value.Kind == ScalarKind.String;
            case StrategyParameterType.Bool:
                return value.Kind == ScalarKind.Bool;
            case StrategyParameterType.Integer when value.Kind != ScalarKind.Int:
                return false;
            default:
                if (!value.IsNumber) return false;
                double d = value.AsDouble();
                return double.IsFinite(d)
                    && (Minimum is not { } lo || (MinimumExclusive ? d > lo : d >= lo))
                    && (Maximum is not { } hi || (MaximumExclusive ? d < hi : d <= hi));
        }
    }

    private string Range(string what) => (Minimum, Maximum) switch
    {
        ({ } lo, { } hi) => $"{what} in {(MinimumExclusive ? "(" : "[")}{Format(lo)}, {Format(hi)}{(MaximumExclusive ? ")" : "]")}",
        ({ } lo, null) => $"{what} {(MinimumExclusive ? ">" : ">=")} {Format(lo)}",
        (null, { } hi) => $"{what} {(MaximumExclusive ? "<" : "<=")} {Format(hi)}",
        _ => what,
    };

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
