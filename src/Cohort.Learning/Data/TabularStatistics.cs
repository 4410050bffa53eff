using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cohort.Learning.Data;

/// <summary>
/// What one site tells the federated statistics step about its training rows: the row and class
/// counts, its table's columns and their types, count, sum and sum of squares of each numeric
/// feature, and how often each value of each categorical column occurs. Never a row.
/// </summary>
internal sealed record TabularStatistics
{
    /// <summary>Training rows (after rows with missing values were dropped, when they are).</summary>
    public long Rows { get; init; }

    /// <summary>Training rows of the negative class.</summary>
    public long Negatives { get; init; }

    /// <summary>Training rows of the positive class.</summary>
    public long Positives { get; init; }

    /// <summary>Every column read, in file order, with its type ("numeric" or "text").</summary>
    public IReadOnlyList<TabularColumnType> Schema { get; init; } = [];

    /// <summary>Per numeric feature: values present, their sum and sum of squares.</summary>
    public IReadOnlyDictionary<string, NumericMoments> Numeric { get; init; } = new SortedDictionary<string, NumericMoments>(StringComparer.Ordinal);

    /// <summary>Per categorical column: each value (numbers written shortest round-trip) and its count.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, long>> Categories { get; init; } = new SortedDictionary<string, IReadOnlyDictionary<string, long>>(StringComparer.Ordinal);

    /// <summary>The JSON a node sends.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, StatisticsJson.Default.TabularStatistics);

    /// <summary>Reads what <see cref="ToJson"/> wrote; throws <see cref="InvalidDataException"/> for anything else.</summary>
    public static TabularStatistics FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize(json, StatisticsJson.Default.TabularStatistics) ?? throw new InvalidDataException($"{source}: empty statistics");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: unreadable statistics ({e.Message})", e);
        }
    }

    /// <summary>
    /// The statistics of <paramref name="table"/>'s training rows: the rows <see cref="TabularPreprocessor.Process(TabularTable, TabularPreprocessorOptions)"/>
    /// trains on (same label rule, missing-value policy and split). Categorical columns are the declared
    /// ones, those named for inference and, with <c>categorical: auto</c>, every text column but the label.
    /// </summary>
    public static TabularStatistics Compute(TabularTable table, TabularPreprocessorOptions options)
    {
        var categoricalNames = TabularPreprocessor.CategoricalColumns(table, options);
        var numeric = new List<TabularColumn>();
        var categorical = new List<TabularColumn>();
        foreach (var c in table.Columns)
        {
            if (c.Name == options.Label) continue;
            if (categoricalNames.Contains(c.Name)) categorical.Add(c);
            else if (c.IsNumeric) numeric.Add(c);
            else throw new TabularDataException(table.Source, 0, $"column '{c.Name}' holds text but is not declared categorical");
        }
        foreach (var name in categoricalNames) _ = table[name];
        var (rows, classes) = TabularPreprocessor.UsableRows(table, options, numeric.Concat(categorical).ToList());
        var split = TrainTestSplit.Create(classes, options.TrainFraction, options.SplitSeed, options.Stratify);

        long positives = 0;
        foreach (int i in split.Train) positives += classes[i];
        var moments = new SortedDictionary<string, NumericMoments>(StringComparer.Ordinal);
        foreach (var c in numeric)
        {
            long count = 0;
            double sum = 0, squares = 0;
            foreach (int i in split.Train)
            {
                double v = c.Numbers![rows[i]];
                if (double.IsNaN(v)) continue;
                count++;
                sum += v;
                squares += v * v;
            }
            moments[c.Name] = new NumericMoments(count, sum, squares);
        }
        var categories = new SortedDictionary<string, IReadOnlyDictionary<string, long>>(StringComparer.Ordinal);
        foreach (var c in categorical)
        {
            var counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (int i in split.Train)
            {
                int r = rows[i];
                if (c.IsMissing(r)) continue;
                string value = c.Numbers is { } n ? n[r].ToString("R", CultureInfo.InvariantCulture) : CategoryValue(c.Texts![r]!);
                counts[value] = counts.GetValueOrDefault(value) + 1;
            }
            categories[c.Name] = counts;
        }
        return new TabularStatistics
        {
            Rows = split.Train.Length,
            Positives = positives,
            Negatives = split.Train.Length - positives,
            Schema = table.Columns.Select(c => new TabularColumnType(c.Name, c.IsNumeric ? "numeric" : "text")).ToArray(),
            Numeric = moments,
            Categories = categories,
        };
    }

    // A number written as text ("1.0") is the category "1", as the encoder matches numbers numerically.
    private static string CategoryValue(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)
            ? v.ToString("R", CultureInfo.InvariantCulture)
            : text;
}

/// <summary>A column's name and type as a site read it.</summary>
/// <param name="Name">Column name.</param>
/// <param name="Type">"numeric" or "text".</param>
internal sealed record TabularColumnType(string Name, string Type);

/// <summary>Count, sum and sum of squares of a numeric column's present values.</summary>
/// <param name="Count">Values present.</param>
/// <param name="Sum">Their sum.</param>
/// <param name="SumSquares">The sum of their squares.</param>
internal sealed record NumericMoments(long Count, double Sum, double SumSquares);

/// <summary>
/// JSON of the statistics records: snake_case names, doubles exact. Source-generated (no reflection), so a
/// trimmed or NativeAOT build reads and writes the same JSON.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    RespectNullableAnnotations = true)]
[JsonSerializable(typeof(TabularStatistics))]
[JsonSerializable(typeof(FederatedTabularStatistics))]
internal sealed partial class StatisticsJson : JsonSerializerContext;
