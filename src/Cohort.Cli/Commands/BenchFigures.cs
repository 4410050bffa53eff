using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cohort.Cli.Commands;

/// <summary>How every benchmark reports: one "name value" line per figure, and the same figures as JSON when asked.</summary>
public static class BenchFigures
{
    /// <summary>Prints a figure and records it (rounded to <paramref name="decimals"/>; a non-finite value is recorded as null).</summary>
    public static void Print(JsonObject figures, string name, double value, int decimals = 3)
    {
        Console.WriteLine($"{name} {value.ToString("0." + new string('#', decimals), CultureInfo.InvariantCulture)}");
        figures[name] = double.IsFinite(value) ? Math.Round(value, decimals) : null;
    }

    /// <summary>Writes the figures to <paramref name="file"/> as indented JSON, creating its folder.</summary>
    public static async Task SaveAsync(JsonObject figures, string file, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        await File.WriteAllTextAsync(file, figures.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct);
    }
}
