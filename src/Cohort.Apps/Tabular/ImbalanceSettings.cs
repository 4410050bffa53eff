using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Models;

namespace Cohort.Apps.Tabular;

/// <summary>
/// How the tabular app handles imbalanced labels at a site: class weights in the loss, oversampling of
/// the training rows, focal loss, and the decision threshold (fixed, or chosen on a validation split
/// carved from the site's training rows).
/// </summary>
/// <param name="ClassWeight">"none", "balanced" or "explicit" (then <paramref name="Weights"/>).</param>
/// <param name="Weights">Explicit weights of class 0 and class 1.</param>
/// <param name="Oversample">"none", "random" or "smote".</param>
/// <param name="Loss">"bce" or "focal".</param>
/// <param name="FocalGamma">γ of the focal loss.</param>
/// <param name="Threshold">The decision threshold rule.</param>
/// <param name="ValidationFraction">Share of the training rows held out to choose the threshold (only when it is chosen).</param>
internal sealed record ImbalanceSettings(string ClassWeight, (double Negative, double Positive) Weights, string Oversample, string Loss, double FocalGamma,
    DecisionThreshold Threshold, double ValidationFraction)
{
    /// <summary>No imbalance handling: plain cross-entropy on the rows as they are, p &gt; 0.5.</summary>
    public static ImbalanceSettings None { get; } = new("none", (1, 1), "none", "bce", 2, DecisionThreshold.Default, 0.2);

    /// <summary>Allowed oversampling methods.</summary>
    public static readonly string[] OversampleMethods = ["none", "random", "smote"];

    /// <summary>Allowed losses.</summary>
    public static readonly string[] Losses = ["bce", "focal"];

    /// <summary>Whether a validation split is carved from the training rows (only to choose the threshold).</summary>
    public bool NeedsValidation => Threshold.Fixed is null;

    /// <summary>
    /// A site's training rows as training sees them: with oversampling, the minority class grown to
    /// the majority's size (seeded by <paramref name="seed"/>); otherwise the rows themselves.
    /// </summary>
    public TabularDataset Resample(TabularDataset train, int seed) => Oversample switch
    {
        "random" => Oversampling.Random(train, seed),
        "smote" => Oversampling.Smote(train, seed),
        _ => train,
    };

    /// <summary>
    /// The training loss for these training rows: "balanced" weighs class c by n / (2·n_c) (scikit-learn's
    /// formula) from all sites' class counts when the statistics step gave them (the same weights
    /// everywhere), else from the rows' own; explicit weights as given; focal adds its γ.
    /// </summary>
    public BinaryLoss LossFor(TabularDataset train, FederatedTabularStatistics? statistics = null)
    {
        double w0 = 1, w1 = 1;
        if (ClassWeight == "balanced")
        {
            var (positives, negatives) = statistics is { } s ? (s.Positives, s.Negatives) : (train.PositiveCount, (long)train.Count - train.PositiveCount);
            // A site holding one class only has nothing to balance; weights of 1 keep its loss finite.
            if (positives > 0 && negatives > 0)
            {
                double n = positives + negatives;
                w0 = n / (2.0 * negatives);
                w1 = n / (2.0 * positives);
            }
        }
        else if (ClassWeight == "explicit")
        {
            (w0, w1) = Weights;
        }
        return new BinaryLoss(w0, w1, Loss == "focal" ? FocalGamma : 0);
    }
}
