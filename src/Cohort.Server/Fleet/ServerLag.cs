namespace Cohort.Server.Fleet;

/// <summary>
/// How far behind the server itself has been lately, measured by how late the node monitor's own ticks
/// run. A server short of CPU or threads (a registration wave after a restart, a long collection, a
/// loaded machine) handles heartbeats late for the same reason its timer fires late; silence it caused is
/// no sign that a node is gone, so the node timeout is extended by the lateness seen within the last
/// timeout, at most doubling it. A tick later than a whole timeout means the server was away (a stopped or
/// suspended process, a machine that slept): for one timeout after it no node is judged at all, so the heartbeats
/// waiting in its sockets are read before anyone's silence is counted.
/// </summary>
internal sealed class ServerLag(TimeSpan timeout)
{
    private readonly Queue<(TimeSpan At, TimeSpan Late)> _recent = new();
    private TimeSpan _sum;
    private TimeSpan _awayUntil = TimeSpan.MinValue;
    private TimeSpan _now;

    /// <summary>Lateness seen within the last timeout, at most the timeout itself.</summary>
    public TimeSpan Allowance => _sum < timeout ? _sum : timeout;

    /// <summary>True within one timeout of a tick later than a whole timeout: the server itself was away, and no node's silence counts yet.</summary>
    public bool Away => _now < _awayUntil;

    /// <summary>Records a tick that ran at <paramref name="now"/> (any monotonic clock) <paramref name="late"/> after it was due.</summary>
    public void Tick(TimeSpan now, TimeSpan late)
    {
        _now = now;
        if (late > timeout) _awayUntil = now + timeout;
        if (late > TimeSpan.Zero)
        {
            _recent.Enqueue((now, late));
            _sum += late;
        }
        while (_recent.TryPeek(out var oldest) && now - oldest.At > timeout)
        {
            _recent.Dequeue();
            _sum -= oldest.Late;
        }
    }
}
