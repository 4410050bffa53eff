using System.Globalization;

namespace Cohort.Plans;

/// <summary>An allowed numeric range for a plan value, with the wording its error message uses.</summary>
internal readonly record struct NumberBounds(double Min, bool MinExclusive, double Max, bool MaxExclusive)
{
    /// <summary>Any finite number.</summary>
    public static NumberBounds Any => new(double.NegativeInfinity, false, double.PositiveInfinity, false);

    /// <summary>Greater than zero.</summary>
    public static NumberBounds Positive => new(0, true, double.PositiveInfinity, false);

    /// <summary>Zero or more.</summary>
    public static NumberBounds NonNegative => new(0, false, double.PositiveInfinity, false);

    /// <summary>From 0 to 1, both included.</summary>
    public static NumberBounds UnitInterval => new(0, false, 1, false);

    /// <summary>True when <paramref name="value"/> lies in the range.</summary>
    public bool Contains(double value) =>
        (MinExclusive ? value > Min : value >= Min) && (MaxExclusive ? value < Max : value <= Max);

    /// <summary>"must be &gt; 0", "must be between 0 and 1", …</summary>
    public string Describe()
    {
        bool hasMin = !double.IsNegativeInfinity(Min), hasMax = !double.IsPositiveInfinity(Max);
        string lower = $"{(MinExclusive ? ">" : ">=")} {Format(Min)}";
        string upper = $"{(MaxExclusive ? "<" : "<=")} {Format(Max)}";
        return (hasMin, hasMax) switch
        {
            (true, true) when !MinExclusive && !MaxExclusive => $"must be between {Format(Min)} and {Format(Max)}",
            (true, true) => $"must be {lower} and {upper}",
            (true, false) => $"must be {lower}",
            (false, true) => $"must be {upper}",
            _ => "must be a finite number",
        };
    }

    private static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
