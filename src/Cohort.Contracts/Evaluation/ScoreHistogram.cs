using System.Globalization;
using System.Text;
using Cohort.Records;

namespace Cohort.Evaluation;

/// <summary>
/// Counts of a binary model's scores in fixed bins, one histogram per class: what a site sends so the
/// server can compute the ROC-AUC and PR-AUC of the pooled test rows of every site without seeing any
/// row. Bins are 0.1 wide on the logit scale over [−10, 10] (outliers fall in the end bins), so the
/// rare, high-scored positives of an imbalanced task are resolved as finely as the bulk. Histograms
/// of several sites add up; the pooled figures treat scores in one bin as tied, which bounds their
/// error (see <see cref="RocAucTieError"/>).
/// </summary>
public sealed class ScoreHistogram
{
    /// <summary>Number of bins per class.</summary>
    public const int Bins = 200;

    /// <summary>Lowest logit of the first bin.</summary>
    public const double MinLogit = -10;

    /// <summary>Highest logit of the last bin.</summary>
    public const double MaxLogit = 10;

    /// <summary>Metric key of the positive class's histogram (a string; see <see cref="Encode"/>).</summary>
    public const string PositiveKey = "score_hist_pos";

    /// <summary>Metric key of the negative class's histogram.</summary>
    public const string NegativeKey = "score_hist_neg";

    // Names the bin layout inside every encoded histogram, so a site on another layout is never mixed in.
    private const string Layout = "logit:-10:10:200";

    private readonly long[] _positive = new long[Bins];
    private readonly long[] _negative = new long[Bins];

    /// <summary>Rows of the positive class counted.</summary>
    public long Positives { get; private set; }

    /// <summary>Rows of the negative class counted.</summary>
    public long Negatives { get; private set; }

    /// <summary>The bin of a logit.</summary>
    public static int BinOf(float logit)
    {
        if (float.IsNaN(logit)) throw new ArgumentException("a score histogram cannot count a NaN score", nameof(logit));
        double at = (logit - MinLogit) / ((MaxLogit - MinLogit) / Bins);
        return at <= 0 ? 0 : at >= Bins ? Bins - 1 : (int)at;
    }

    /// <summary>Counts one row's logit under its class.</summary>
    public void Add(float logit, bool positive)
    {
        int bin = BinOf(logit);
        if (positive)
        {
            _positive[bin]++;
            Positives++;
        }
        else
        {
            _negative[bin]++;
            Negatives++;
        }
    }

    /// <summary>Counts every row: logits and 0/1 labels.</summary>
    public void AddAll(ReadOnlySpan<float> logits, ReadOnlySpan<float> labels)
    {
        if (logits.Length != labels.Length) throw new ArgumentException($"{logits.Length} scores but {labels.Length} labels");
        for (int i = 0; i < logits.Length; i++) Add(logits[i], labels[i] > 0.5f);
    }

    /// <summary>Adds another histogram's counts to this one.</summary>
    public void Merge(ScoreHistogram other)
    {
        for (int b = 0; b < Bins; b++)
        {
            _positive[b] += other._positive[b];
            _negative[b] += other._negative[b];
        }
        Positives += other.Positives;
        Negatives += other.Negatives;
    }

    /// <summary>ROC-AUC with the scores in one bin tied (half credit); NaN when either class is absent.</summary>
    public double RocAuc()
    {
        if (Positives == 0 || Negatives == 0) return double.NaN;
        double credit = 0;
        long below = 0;
        for (int b = 0; b < Bins; b++)
        {
            credit += _positive[b] * (below + 0.5 * _negative[b]);
            below += _negative[b];
        }
        return credit / ((double)Positives * Negatives);
    }

    /// <summary>
    /// The most the binned ROC-AUC can differ from the exact AUC of the same rows: half the share of
    /// positive–negative pairs that fall in one bin (their order inside the bin is unknown).
    /// </summary>
    public double RocAucTieError()
    {
        if (Positives == 0 || Negatives == 0) return double.NaN;
        double tied = 0;
        for (int b = 0; b < Bins; b++) tied += (double)_positive[b] * _negative[b];
        return 0.5 * tied / ((double)Positives * Negatives);
    }

    /// <summary>
    /// Average precision Σ (Rₖ − Rₖ₋₁)·Pₖ over the bins from the highest score down, each bin one
    /// threshold (scikit-learn's average_precision_score with the scores of a bin tied); NaN without positives.
    /// </summary>
    public double AveragePrecision()
    {
        if (Positives == 0) return double.NaN;
        double ap = 0;
        long tp = 0, fp = 0;
        for (int b = Bins - 1; b >= 0; b--)
        {
            if (_positive[b] == 0)
            {
                fp += _negative[b];
                continue;
            }
            tp += _positive[b];
            fp += _negative[b];
            ap += (double)_positive[b] / Positives * ((double)tp / (tp + fp));
        }
        return ap;
    }

    /// <summary>The two metrics a site reports: both classes' histograms as compact strings ("layout|bin:count bin:count …", no commas, so CSV exports need no quoting).</summary>
    public IEnumerable<KeyValuePair<string, Scalar>> ToMetrics() =>
    [
        KeyValuePair.Create(PositiveKey, Scalar.Of(Encode(_positive))),
        KeyValuePair.Create(NegativeKey, Scalar.Of(Encode(_negative))),
    ];

    /// <summary>
    /// The histogram a site reported in <paramref name="metrics"/>, or null when it reported none (or
    /// one on another bin layout, or malformed), so such a site is simply not pooled.
    /// </summary>
    public static ScoreHistogram? FromMetrics(Metrics metrics)
    {
        if (!metrics.TryGetValue(PositiveKey, out var pos) || !metrics.TryGetValue(NegativeKey, out var neg)) return null;
        if (pos.Kind != ScalarKind.String || neg.Kind != ScalarKind.String) return null;
        var h = new ScoreHistogram();
        if (!Decode(pos.AsString(), h._positive, out long p) || !Decode(neg.AsString(), h._negative, out long n)) return null;
        h.Positives = p;
        h.Negatives = n;
        return h;
    }

    private static string Encode(long[] counts)
    {
        var sb = new StringBuilder(Layout).Append('|');
        bool first = true;
        for (int b = 0; b < Bins; b++)
        {
            if (counts[b] == 0) continue;
            if (!first) sb.Append(' ');
            sb.Append(CultureInfo.InvariantCulture, $"{b}:{counts[b]}");
            first = false;
        }
        return sb.ToString();
    }

    private static bool Decode(string text, long[] counts, out long total)
    {
        total = 0;
        int bar = text.IndexOf('|', StringComparison.Ordinal);
        if (bar < 0 || !text.AsSpan(0, bar).SequenceEqual(Layout)) return false;
        var body = text.AsSpan(bar + 1);
        foreach (var range in body.Split(' '))
        {
            var item = body[range];
            if (item.IsEmpty) continue;
            int colon = item.IndexOf(':');
            if (colon < 0
                || !int.TryParse(item[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out int bin) || bin >= Bins
                || !long.TryParse(item[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out long count))
                return false;
            counts[bin] += count;
            total += count;
        }
        return true;
    }
}
