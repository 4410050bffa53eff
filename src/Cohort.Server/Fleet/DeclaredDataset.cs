namespace Cohort.Server.Fleet;

/// <summary>A data set a node declared when it registered: its name and schema, never its content.</summary>
/// <param name="Name">The name plans use (<c>dataset: NAME</c>).</param>
/// <param name="SchemaHash">Hex SHA-256 of the column names and inferred types; empty when the node's app cannot describe its data.</param>
/// <param name="Columns">Number of columns; 0 when unknown.</param>
internal sealed record DeclaredDataset(string Name, string SchemaHash, int Columns)
{
    /// <summary>Longest schema hash accepted (a hex SHA-256 is 64 characters).</summary>
    public const int MaxHashLength = 128;

    /// <summary>Most data sets one node may declare.</summary>
    public const int MaxPerNode = 64;
}
