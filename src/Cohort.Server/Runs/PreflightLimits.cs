using Cohort.Apps;
using Cohort.Records;
using Google.Protobuf.Collections;
using WireScalar = Cohort.Transport.V1.Scalar;

namespace Cohort.Server.Runs;

/// <summary>Bounds on what one node's preflight answer may put into the submitter's error message.</summary>
internal static class PreflightLimits
{
    /// <summary>Most problems kept from one node.</summary>
    public const int MaxProblems = 32;

    /// <summary>Most problems one message reports, over all nodes.</summary>
    public const int MaxReported = 64;

    /// <summary>Longest problem kept, in characters.</summary>
    public const int MaxProblemLength = 500;

    /// <summary>A problem cut to <see cref="MaxProblemLength"/>, on one line.</summary>
    public static string Clip(string problem) => Fleet.NodeText.Clean(problem, MaxProblemLength);

    /// <summary>
    /// The schema a preflight answer reports (its hash, at most 128 hex characters, and column count), as
    /// metrics; anything else the answer carries is dropped, so a node cannot make the server keep more.
    /// </summary>
    public static Metrics Schema(MapField<string, WireScalar> metrics)
    {
        if (!metrics.TryGetValue(SchemaMetrics.Hash, out var hash) || hash.ValueCase != WireScalar.ValueOneofCase.StringValue
            || hash.StringValue.Length is 0 or > Fleet.DeclaredDataset.MaxHashLength || !hash.StringValue.All(char.IsAsciiHexDigit))
            return Metrics.Empty;
        long columns = metrics.TryGetValue(SchemaMetrics.Columns, out var c) && c.ValueCase == WireScalar.ValueOneofCase.IntValue ? Math.Clamp(c.IntValue, 0, 1_000_000) : 0;
        return new Metrics([KeyValuePair.Create(SchemaMetrics.Hash, Scalar.Of(hash.StringValue)), KeyValuePair.Create(SchemaMetrics.Columns, Scalar.Of(columns))]);
    }
}
