using System.Globalization;
using System.Text.RegularExpressions;
using Cohort.Records;

namespace Cohort.Plans;

/// <summary>Plan durations: "250ms", "90s", "5m", "1h", combinations such as "1h30m", or a plain number of seconds.</summary>
internal static partial class PlanDurations
{
    /// <summary>
    /// Longest duration a plan may give, in days: the server waits out every plan duration on a timer, and .NET timers
    /// wait at most 2^32 - 2 ms (49.7 days); a longer one would pass the plan check and fail the run when it starts.
    /// </summary>
    public const int MaxDays = 49;

    /// <summary><see cref="MaxDays"/> in seconds.</summary>
    public const double MaxSeconds = MaxDays * 86400.0;

    /// <summary>Reads a duration in seconds; false when the value is not a duration.</summary>
    public static bool TryParse(Scalar value, out double seconds)
    {
        seconds = 0;
        if (value.IsNumber)
        {
            seconds = value.AsDouble();
            return double.IsFinite(seconds);
        }
        if (value.Kind != ScalarKind.String) return false;
        string text = value.AsString().Trim();
        if (!Whole().IsMatch(text)) return false;
        foreach (Match m in Part().Matches(text))
        {
            double n = double.Parse(m.Groups[1].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
            seconds += m.Groups[2].Value switch
            {
                "ms" => n / 1000,
                "s" => n,
                "m" => n * 60,
                _ => n * 3600,
            };
        }
        return double.IsFinite(seconds);
    }

    [GeneratedRegex(@"^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h))+$", RegexOptions.CultureInvariant)]
    private static partial Regex Whole();

    [GeneratedRegex(@"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)", RegexOptions.CultureInvariant)]
    private static partial Regex Part();
}
