using Cohort.Audit;

namespace Cohort.Node;

/// <summary>
/// Bounds what preflight (validate) tasks write to the node's audit ledger: at most <see cref="PerMinute"/> entries a
/// minute, and for the rest of that minute one line saying how many were left out. A server can send validate tasks
/// as fast as the node answers them (each costs the node little), and the ledger is never trimmed.
/// </summary>
internal sealed class ValidateAuditLimit(AuditLedger ledger, string node, TimeProvider? clock = null)
{
    /// <summary>Validate entries (each task's received and result lines) recorded a minute.</summary>
    public const int PerMinute = 60;

    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly Lock _lock = new();
    private DateTimeOffset _start = DateTimeOffset.MinValue;
    private int _written;
    private int _leftOut;

    /// <summary>Appends <paramref name="e"/>, an entry of a validate task, unless this minute's are spent.</summary>
    public void Append(AuditEvent e)
    {
        AuditEvent? summary = null;
        bool write;
        lock (_lock)
        {
            var now = _clock.GetUtcNow();
            if (now - _start >= Window)
            {
                summary = TakeSummary(now);
                _start = now;
                _written = 0;
            }
            write = _written < PerMinute;
            if (write) _written++;
            else _leftOut++;
        }
        if (summary is not null) ledger.Append(summary);
        if (write) ledger.Append(e);
    }

    /// <summary>Writes the line about entries left out, if any are not told yet (the node stops).</summary>
    public void Flush()
    {
        AuditEvent? summary;
        lock (_lock) summary = TakeSummary(_clock.GetUtcNow());
        if (summary is not null) ledger.Append(summary);
    }

    private AuditEvent? TakeSummary(DateTimeOffset now)
    {
        if (_leftOut == 0) return null;
        var summary = new AuditEvent(AuditKinds.EntriesLeftOut, $"node:{node}",
            $"{_leftOut} validate task entries left out between {_start:O} and {now:O} (at most {PerMinute} are recorded a minute)")
        { Node = node };
        _leftOut = 0;
        return summary;
    }
}
