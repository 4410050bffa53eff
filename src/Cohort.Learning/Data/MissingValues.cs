namespace Cohort.Learning.Data;

/// <summary>What the preprocessor does with a missing feature value.</summary>
internal enum MissingValues
{
    /// <summary>Drops every row that misses a value in a used column (FLamby's rule).</summary>
    Drop,

    /// <summary>Fills numeric features with the training split's mean; a missing category one-hot encodes as all zeros.</summary>
    Mean,
}
