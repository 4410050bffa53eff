using System.Diagnostics;
using Cohort.Records;

namespace Cohort.Engine.Runs;

/// <summary>
/// Splits a round's wall time into <see cref="RoundPhase"/>s: the time since the last switch is charged to
/// the phase that was running, so the phases never overlap and add up to the round's span.
/// </summary>
internal sealed class RoundPhaseTimer
{
    /// <summary>Phase names as stored in <c>RoundRecord.Phases</c>, indexed by <see cref="RoundPhase"/>.</summary>
    public static readonly IReadOnlyList<string> Names =
        ["wait_for_nodes", "configure", "fit", "aggregate", "save_model", "evaluate", "evaluate_aggregate", "central_evaluate", "persist"];

    private readonly long[] _ticks = new long[Names.Count];
    private RoundPhase _current;
    private long _since;

    /// <summary>Starts timing in <paramref name="first"/>.</summary>
    public RoundPhaseTimer(RoundPhase first)
    {
        _current = first;
        _since = Stopwatch.GetTimestamp();
    }

    /// <summary>Charges the time since the last switch to the running phase and starts <paramref name="next"/>; returns the phase that was running.</summary>
    public RoundPhase Switch(RoundPhase next)
    {
        long now = Stopwatch.GetTimestamp();
        _ticks[(int)_current] += now - _since;
        _since = now;
        var previous = _current;
        _current = next;
        return previous;
    }

    /// <summary>Seconds per phase name, every phase present (zero when it did not run), the running phase charged up to now.</summary>
    public Metrics ToMetrics()
    {
        Switch(_current);
        var values = new KeyValuePair<string, Scalar>[Names.Count];
        for (int i = 0; i < values.Length; i++) values[i] = new(Names[i], (double)_ticks[i] / Stopwatch.Frequency);
        return new Metrics(values);
    }
}
