namespace Cohort.Audit;

/// <summary>
/// What happened, as handed to <see cref="AuditLedger.Append"/>; the ledger adds the sequence number, time,
/// chain hash and signature.
/// </summary>
/// <param name="Kind">What kind of event (<see cref="AuditKinds"/>), e.g. <c>task.sent</c>.</param>
/// <param name="Actor">Who caused it: <c>admin</c>, <c>node:NAME</c>, <c>viewer:NAME</c>, <c>address:IP</c>, <c>server</c>.</param>
/// <param name="Detail">One human-readable line.</param>
public sealed record AuditEvent(string Kind, string Actor, string Detail)
{
    /// <summary>The run it concerns, if any.</summary>
    public string? Run { get; init; }

    /// <summary>The round it concerns, if any.</summary>
    public int? Round { get; init; }

    /// <summary>The node it concerns, if any.</summary>
    public string? Node { get; init; }

    /// <summary>The task id it concerns, if any.</summary>
    public string? Task { get; init; }

    /// <summary>SHA-256 (hex) of the parameter bytes sent or received with the task or result, if any.</summary>
    public string? Digest { get; init; }
}
