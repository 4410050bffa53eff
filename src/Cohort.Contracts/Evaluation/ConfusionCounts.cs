using Cohort.Records;

namespace Cohort.Evaluation;

/// <summary>
/// The confusion matrix of binary predictions at one threshold. Counts from several sites add up, so
/// precision, recall and F1 of the sum are exactly those of the pooled rows.
/// </summary>
/// <param name="TruePositives">Positives predicted positive.</param>
/// <param name="FalsePositives">Negatives predicted positive.</param>
/// <param name="TrueNegatives">Negatives predicted negative.</param>
/// <param name="FalseNegatives">Positives predicted negative.</param>
public readonly record struct ConfusionCounts(long TruePositives, long FalsePositives, long TrueNegatives, long FalseNegatives)
{
    /// <summary>All rows counted.</summary>
    public long Total => TruePositives + FalsePositives + TrueNegatives + FalseNegatives;

    /// <summary>Share of rows predicted right; NaN for no rows.</summary>
    public double Accuracy => Ratio(TruePositives + TrueNegatives, Total);

    /// <summary>TP / (TP + FP); 0 when nothing is predicted positive (scikit-learn's zero_division=0).</summary>
    public double Precision => TruePositives + FalsePositives == 0 ? 0 : (double)TruePositives / (TruePositives + FalsePositives);

    /// <summary>TP / (TP + FN), the true positive rate; NaN without positives.</summary>
    public double Recall => Ratio(TruePositives, TruePositives + FalseNegatives);

    /// <summary>TN / (TN + FP); NaN without negatives.</summary>
    public double Specificity => Ratio(TrueNegatives, TrueNegatives + FalsePositives);

    /// <summary>2·TP / (2·TP + FP + FN); 0 when there is nothing to find and nothing found.</summary>
    public double F1 => 2 * TruePositives + FalsePositives + FalseNegatives == 0 ? 0 : 2.0 * TruePositives / (2 * TruePositives + FalsePositives + FalseNegatives);

    /// <summary>Mean of recall and specificity; with one class absent, the rate of the class present.</summary>
    public double BalancedAccuracy => (double.IsNaN(Recall), double.IsNaN(Specificity)) switch
    {
        (false, false) => (Recall + Specificity) / 2,
        (true, false) => Specificity,
        (false, true) => Recall,
        _ => double.NaN,
    };

    /// <summary>Metric keys of the four counts.</summary>
    public static readonly string[] Keys = ["tp", "fp", "tn", "fn"];

    /// <summary>The counts and the figures that follow from them, as metrics: tp, fp, tn, fn, precision, recall, f1, balanced_accuracy.</summary>
    public IEnumerable<KeyValuePair<string, Scalar>> ToMetrics()
    {
        yield return KeyValuePair.Create("tp", Scalar.Of(TruePositives));
        yield return KeyValuePair.Create("fp", Scalar.Of(FalsePositives));
        yield return KeyValuePair.Create("tn", Scalar.Of(TrueNegatives));
        yield return KeyValuePair.Create("fn", Scalar.Of(FalseNegatives));
        yield return KeyValuePair.Create("precision", Scalar.Of(Precision));
        // Recall and balanced accuracy are undefined without positives; leave them out rather than send NaN.
        if (double.IsFinite(Recall)) yield return KeyValuePair.Create("recall", Scalar.Of(Recall));
        yield return KeyValuePair.Create("f1", Scalar.Of(F1));
        if (double.IsFinite(BalancedAccuracy)) yield return KeyValuePair.Create("balanced_accuracy", Scalar.Of(BalancedAccuracy));
    }

    /// <summary>The counts a site reported as tp, fp, tn and fn, or null when any is missing or not a whole number.</summary>
    public static ConfusionCounts? FromMetrics(Metrics metrics)
    {
        Span<long> c = stackalloc long[4];
        for (int i = 0; i < 4; i++)
        {
            if (!metrics.TryGetValue(Keys[i], out var v) || !v.IsNumber) return null;
            double d = v.AsDouble();
            if (d < 0 || Math.Floor(d) != d) return null;
            c[i] = (long)d;
        }
        return new ConfusionCounts(c[0], c[1], c[2], c[3]);
    }

    /// <summary>Counts of both matrices added.</summary>
    public static ConfusionCounts operator +(ConfusionCounts a, ConfusionCounts b) =>
        new(a.TruePositives + b.TruePositives, a.FalsePositives + b.FalsePositives, a.TrueNegatives + b.TrueNegatives, a.FalseNegatives + b.FalseNegatives);

    private static double Ratio(long a, long b) => b == 0 ? double.NaN : (double)a / b;
}
