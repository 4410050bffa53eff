namespace Cohort.Cli.Commands;

/// <summary>The p10, median and p90 of a set of measurements (the value at that rank of the sorted set), as the round benches print them.</summary>
internal readonly record struct Spread(double P10, double Median, double P90)
{
    /// <summary>The spread of <paramref name="values"/>; throws when there are none.</summary>
    public static Spread Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        var sorted = values.Order().ToArray();
        return new Spread(sorted[sorted.Length / 10], sorted[sorted.Length / 2], sorted[sorted.Length * 9 / 10]);
    }
}
