using System.Globalization;

namespace Cohort.Learning.Metrics;

/// <summary>
/// How a binary model's decision threshold is set: a fixed probability, or chosen on validation rows
/// to maximise F1 or to reach a target recall with the fewest positives predicted. A row is predicted
/// positive when p &gt; threshold.
/// </summary>
public sealed record DecisionThreshold
{
    private DecisionThreshold(string text, double? fixedValue, double? recall)
    {
        Text = text;
        Fixed = fixedValue;
        TargetRecall = recall;
    }

    /// <summary>The rule as written: "0.5", "max_f1" or "recall:0.9".</summary>
    public string Text { get; }

    /// <summary>The fixed threshold, or null when it is chosen on validation rows.</summary>
    public double? Fixed { get; }

    /// <summary>The recall to reach, for "recall:R".</summary>
    public double? TargetRecall { get; }

    /// <summary>FLamby's p &gt; 0.5.</summary>
    public static DecisionThreshold Default { get; } = new("0.5", BinaryMetrics.Threshold, null);

    /// <summary>Parses "0.5" (any number strictly between 0 and 1), "max_f1" or "recall:R" with R in (0, 1]; throws FormatException.</summary>
    public static DecisionThreshold Parse(string text)
    {
        string t = text.Trim();
        if (t.Equals("max_f1", StringComparison.OrdinalIgnoreCase)) return new("max_f1", null, null);
        if (t.StartsWith("recall:", StringComparison.OrdinalIgnoreCase))
        {
            if (double.TryParse(t.AsSpan(7), NumberStyles.Float, CultureInfo.InvariantCulture, out double r) && r > 0 && r <= 1) return new($"recall:{r.ToString(CultureInfo.InvariantCulture)}", null, r);
            throw new FormatException($"'{t}': the recall after 'recall:' must be a number in (0, 1]");
        }
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 && v < 1) return new(v.ToString(CultureInfo.InvariantCulture), v, null);
        throw new FormatException($"'{t}' is not a probability strictly between 0 and 1, max_f1 or recall:R");
    }

    /// <summary>
    /// The threshold for these validation probabilities: the fixed one; for max_f1 the cut between two
    /// adjacent distinct scores with the highest F1; for recall:R the highest cut whose recall reaches R.
    /// Without validation positives the default 0.5 is kept.
    /// </summary>
    public double Choose(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        if (Fixed is { } f) return f;
        int n = probabilities.Length, positives = 0;
        foreach (float y in labels) if (y > 0.5f) positives++;
        if (positives == 0) return BinaryMetrics.Threshold;
        var sorted = probabilities.ToArray();
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(sorted, order);
        // Walk the distinct scores from the highest down: predicting positive for everything ≥ the score.
        double best = double.NegativeInfinity, chosen = BinaryMetrics.Threshold;
        long tp = 0, fp = 0;
        for (int end = n; end > 0;)
        {
            int start = end - 1;
            while (start > 0 && sorted[start - 1] == sorted[end - 1]) start--;
            for (int k = start; k < end; k++)
                if (labels[order[k]] > 0.5f) tp++; else fp++;
            // The cut sits halfway to the next lower score (or below the lowest), so p > cut selects exactly these rows.
            double cut = start > 0 ? (sorted[start - 1] + (double)sorted[start]) / 2 : sorted[0] / 2.0;
            if (TargetRecall is { } target)
            {
                if ((double)tp / positives >= target) return cut;
            }
            else
            {
                double f1 = 2.0 * tp / (tp + fp + positives);
                if (f1 > best)
                {
                    best = f1;
                    chosen = cut;
                }
            }
            end = start;
        }
        return chosen;
    }
}
