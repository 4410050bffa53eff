namespace Cohort.Engine.State;

/// <summary>
/// Versions of the state schema. Each migration takes the schema from the previous version to its own;
/// a database records the version it is at in <c>schema_version</c>, and a server refuses one newer
/// than <see cref="Current"/> rather than write into tables it does not know.
/// </summary>
internal static class SchemaVersion
{
    /// <summary>The schema this binary writes.</summary>
    public const int Current = 4;

    /// <summary>The message for a database at <paramref name="found"/> &gt; <see cref="Current"/>.</summary>
    public static string TooNew(string where, long found) =>
        $"{where} has state schema version {found}, but this server knows versions up to {Current}: it was written by a newer Cohort; run that version (or restore a backup taken before the upgrade)";
}
