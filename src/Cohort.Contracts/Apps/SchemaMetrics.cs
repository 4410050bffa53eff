namespace Cohort.Apps;

/// <summary>The metric names a preflight answer carries its data's schema under, for the server to compare across nodes.</summary>
internal static class SchemaMetrics
{
    /// <summary>The schema's <see cref="DatasetSchema.Hash"/>.</summary>
    public const string Hash = "schema_hash";

    /// <summary>Its number of columns.</summary>
    public const string Columns = "schema_columns";
}
