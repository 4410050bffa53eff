namespace Cohort.Learning.Data;

/// <summary>
/// Model-ready examples: a dense row-major float32 feature matrix [rows, features] and binary labels
/// (0 or 1).
/// </summary>
internal sealed class TabularDataset
{
    /// <summary>Creates a dataset over the given arrays (not copied).</summary>
    public TabularDataset(float[] features, float[] labels, IReadOnlyList<string> featureNames)
    {
        if (featureNames.Count == 0 && labels.Length > 0) throw new ArgumentException("a dataset needs at least one feature");
        if (features.Length != labels.Length * featureNames.Count)
            throw new ArgumentException($"{features.Length} feature values do not make {labels.Length} rows of {featureNames.Count} features");
        Features = features;
        Labels = labels;
        FeatureNames = featureNames;
    }

    /// <summary>Row-major features, <see cref="Count"/> × <see cref="FeatureCount"/>.</summary>
    public float[] Features { get; }

    /// <summary>Labels, 0 or 1.</summary>
    public float[] Labels { get; }

    /// <summary>Feature names, e.g. "age" or "cp=2" for a one-hot column.</summary>
    public IReadOnlyList<string> FeatureNames { get; }

    /// <summary>Number of examples.</summary>
    public int Count => Labels.Length;

    /// <summary>Number of features per example.</summary>
    public int FeatureCount => FeatureNames.Count;

    /// <summary>Number of positive examples.</summary>
    public int PositiveCount
    {
        get
        {
            int n = 0;
            foreach (float y in Labels) if (y > 0.5f) n++;
            return n;
        }
    }

    /// <summary>The features of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<float> Row(int row) => Features.AsSpan(row * FeatureCount, FeatureCount);

    /// <summary>A new data set of the given rows, in the given order (copied).</summary>
    public TabularDataset Select(ReadOnlySpan<int> rows)
    {
        int d = FeatureCount;
        var x = new float[rows.Length * d];
        var y = new float[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            Row(rows[r]).CopyTo(x.AsSpan(r * d, d));
            y[r] = Labels[rows[r]];
        }
        return new TabularDataset(x, y, FeatureNames);
    }

    /// <summary>Several datasets with the same features stacked into one (pooled training).</summary>
    public static TabularDataset Concat(IReadOnlyList<TabularDataset> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("nothing to concatenate");
        var names = parts[0].FeatureNames;
        int rows = 0;
        foreach (var p in parts)
        {
            if (!p.FeatureNames.SequenceEqual(names))
                throw new ArgumentException($"datasets have different features: [{string.Join(", ", names)}] vs [{string.Join(", ", p.FeatureNames)}]");
            rows += p.Count;
        }
        var x = new float[rows * names.Count];
        var y = new float[rows];
        int at = 0;
        foreach (var p in parts)
        {
            p.Features.CopyTo(x, at * names.Count);
            p.Labels.CopyTo(y, at);
            at += p.Count;
        }
        return new TabularDataset(x, y, names);
    }
}

/// <summary>A node's preprocessed data: its training and test splits.</summary>
/// <param name="Train">Training split.</param>
/// <param name="Test">Held-out split.</param>
/// <param name="Stratified">Whether the split preserved class proportions.</param>
internal sealed record TabularSplit(TabularDataset Train, TabularDataset Test, bool Stratified);
