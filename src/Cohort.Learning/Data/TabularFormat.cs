namespace Cohort.Learning.Data;

/// <summary>Layout of a tabular text file.</summary>
internal enum TabularFormat
{
    /// <summary>Comma-separated values, by default with a header row naming the columns.</summary>
    Csv,

    /// <summary>UCI repository style: comma-separated, no header, '?' for a missing value.</summary>
    Uci,
}
