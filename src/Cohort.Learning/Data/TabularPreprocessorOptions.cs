namespace Cohort.Learning.Data;

/// <summary>How <see cref="TabularPreprocessor"/> turns a table into train and test examples.</summary>
internal sealed record TabularPreprocessorOptions
{
    /// <summary>The label column.</summary>
    public required string Label { get; init; }

    /// <summary>Which label values are the positive class.</summary>
    public LabelRule Positive { get; init; } = LabelRule.Parse("> 0");

    /// <summary>Columns ignored entirely.</summary>
    public IReadOnlyList<string> Drop { get; init; } = [];

    /// <summary>Categorical columns and their declared categories (every node must declare the same, so encodings agree).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Categorical { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>Whether every text column (other than the label) is categorical, its categories inferred from the rows (<c>categorical: auto</c>).</summary>
    public bool CategoricalAuto { get; init; }

    /// <summary>Categorical columns whose categories are inferred from the rows (<c>categorical: [a, b]</c>).</summary>
    public IReadOnlyList<string> InferCategories { get; init; } = [];

    /// <summary>Whether a categorical column's first category is left out of its one-hot block (pandas' drop_first).</summary>
    public bool DropFirst { get; init; }

    /// <summary>What happens to missing feature values.</summary>
    public MissingValues Missing { get; init; } = MissingValues.Drop;

    /// <summary>Whether features are z-scored with the training split's mean and sample standard deviation.</summary>
    public bool Standardize { get; init; } = true;

    /// <summary>
    /// Whether <see cref="Standardize"/> uses the mean and deviation of all sites' training rows (from
    /// <see cref="Statistics"/>) instead of this site's own (<c>standardize: global</c>).
    /// </summary>
    public bool GlobalStandardize { get; init; }

    /// <summary>The federated statistics of all sites' training rows, when the run gathered them: vocabularies of inferred categorical columns, and the moments global standardisation uses.</summary>
    public FederatedTabularStatistics? Statistics { get; init; }

    /// <summary>Share of rows used for training.</summary>
    public double TrainFraction { get; init; } = 0.66;

    /// <summary>Seed of the split (scikit-learn's random_state).</summary>
    public uint SplitSeed { get; init; } = 43;

    /// <summary>Whether the split keeps class proportions (only done when every class has more than two rows).</summary>
    public bool Stratify { get; init; } = true;

    /// <summary>The columns the reader must keep as text: categorical ones and the label.</summary>
    public IReadOnlySet<string> TextColumns
    {
        get
        {
            var s = new HashSet<string>(Categorical.Keys.Concat(InferCategories), StringComparer.Ordinal) { Label };
            return s;
        }
    }
}
