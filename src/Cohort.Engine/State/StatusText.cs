using Cohort.Clients;
using Cohort.Engine.Runs;

namespace Cohort.Engine.State;

/// <summary>
/// The one mapping between the typed statuses and phases and their text, as stored in the database columns and
/// shown on the wire, the dashboard and the command line. Only the edges convert; everything else compares values.
/// </summary>
public static class StatusText
{
    private static readonly (RunStatus Value, string Text)[] Runs =
        [(RunStatus.Queued, "queued"), (RunStatus.Running, "running"), (RunStatus.Finished, "finished"), (RunStatus.Failed, "failed"), (RunStatus.Stopped, "stopped")];

    private static readonly (RoundStatus Value, string Text)[] Rounds = [(RoundStatus.Done, "done"), (RoundStatus.Failed, "failed")];

    private static readonly (NodeStatus Value, string Text)[] Nodes =
        [(NodeStatus.Unknown, "unknown"), (NodeStatus.Online, "online"), (NodeStatus.Busy, "busy"), (NodeStatus.Offline, "offline")];

    private static readonly (ProgressPhase Value, string Text)[] ProgressPhases =
    [
        (ProgressPhase.WaitingForNodes, "waiting for nodes"), (ProgressPhase.Starting, "starting"), (ProgressPhase.Statistics, "statistics"),
        (ProgressPhase.Fit, "fit"), (ProgressPhase.Evaluate, "evaluate"), (ProgressPhase.Buffering, "buffering"),
    ];

    private static readonly (TaskKind Value, string Text)[] Phases =
        [(TaskKind.Fit, "fit"), (TaskKind.Evaluate, "evaluate"), (TaskKind.GetParameters, "get_parameters"), (TaskKind.Validate, "validate"), (TaskKind.Statistics, "statistics")];

    /// <summary>The run status as stored and shown ("queued", "running", "finished", "failed", "stopped").</summary>
    public static string ToText(this RunStatus status) => TextOf(Runs, status);

    /// <summary>The round status as stored and shown ("done", "failed").</summary>
    public static string ToText(this RoundStatus status) => TextOf(Rounds, status);

    /// <summary>The node status as stored and shown ("unknown", "online", "busy", "offline").</summary>
    internal static string ToText(this NodeStatus status) => TextOf(Nodes, status);

    /// <summary>
    /// The node status as shown to operators (Control API, dashboard, <c>cohort nodes</c>): as stored, except that a
    /// node that holds a token but never registered shows as "never connected".
    /// </summary>
    internal static string ToShownText(this NodeStatus status) => status == NodeStatus.Unknown ? "never connected" : status.ToText();

    /// <summary>A node's status now: what the live registry says, else offline (or never connected) from the stored record.</summary>
    internal static NodeStatus Current(NodeStatus? live, NodeStatus stored) => live ?? (stored == NodeStatus.Unknown ? NodeStatus.Unknown : NodeStatus.Offline);

    /// <summary>A task's kind as the phase name stored with node results and shown ("fit", "evaluate", "get_parameters", ...).</summary>
    internal static string ToPhaseText(this TaskKind kind) => TextOf(Phases, kind);

    /// <summary>What a running run is doing, as shown on the dashboard ("waiting for nodes", "fit", "buffering", ...).</summary>
    internal static string ToText(this ProgressPhase phase) => TextOf(ProgressPhases, phase);

    /// <summary>True for a run status that will not change again.</summary>
    public static bool IsFinal(this RunStatus status) => status is RunStatus.Finished or RunStatus.Failed or RunStatus.Stopped;

    /// <summary>True while a node is connected (idle or busy).</summary>
    internal static bool IsConnected(this NodeStatus status) => status is NodeStatus.Online or NodeStatus.Busy;

    /// <summary>The run status <paramref name="text"/> names; false for text that names none.</summary>
    public static bool TryParseRunStatus(string? text, out RunStatus status) => TryParse(Runs, text, out status);

    /// <summary>The round status <paramref name="text"/> names; false for text that names none.</summary>
    public static bool TryParseRoundStatus(string? text, out RoundStatus status) => TryParse(Rounds, text, out status);

    /// <summary>The node status <paramref name="text"/> names, as stored or shown; false for text that names none.</summary>
    internal static bool TryParseNodeStatus(string? text, out NodeStatus status)
    {
        if (text == NodeStatus.Unknown.ToShownText())
        {
            status = NodeStatus.Unknown;
            return true;
        }
        return TryParse(Nodes, text, out status);
    }

    /// <summary>The task kind a stored phase name stands for; false for text that names none.</summary>
    internal static bool TryParsePhase(string? text, out TaskKind kind) => TryParse(Phases, text, out kind);

    /// <summary>The list of known texts, for error messages.</summary>
    internal static string Known<T>(this (T Value, string Text)[] table) => string.Join(", ", table.Select(x => x.Text));

    /// <summary>A run status read from the <paramref name="table"/> table; an unknown value is a damaged store.</summary>
    internal static RunStatus StoredRunStatus(string text, string table) =>
        TryParse(Runs, text, out var status) ? status : throw Unknown("run status", text, table, Runs.Known());

    /// <summary>A round status read from the <paramref name="table"/> table; an unknown value is a damaged store.</summary>
    internal static RoundStatus StoredRoundStatus(string text, string table) =>
        TryParse(Rounds, text, out var status) ? status : throw Unknown("round status", text, table, Rounds.Known());

    /// <summary>A node status read from the <paramref name="table"/> table; an unknown value is a damaged store.</summary>
    internal static NodeStatus StoredNodeStatus(string text, string table) =>
        TryParse(Nodes, text, out var status) ? status : throw Unknown("node status", text, table, Nodes.Known());

    /// <summary>A phase read from the <paramref name="table"/> table; an unknown value is a damaged store.</summary>
    internal static TaskKind StoredPhase(string text, string table) =>
        TryParse(Phases, text, out var kind) ? kind : throw Unknown("phase", text, table, Phases.Known());

    /// <summary>The known run status texts, comma-separated, for error messages.</summary>
    internal static string KnownRunStatuses => Runs.Known();

    private static StateIntegrityException Unknown(string what, string text, string table, string known) =>
        new($"state store: unknown {what} '{text}' in table {table} (known: {known}); was the database written by a newer Cohort?");

    private static string TextOf<T>((T Value, string Text)[] table, T value) where T : struct, Enum
    {
        foreach (var (v, text) in table)
        {
            if (EqualityComparer<T>.Default.Equals(v, value)) return text;
        }
        throw new ArgumentOutOfRangeException(nameof(value), value, $"no text for {typeof(T).Name}.{value}");
    }

    private static bool TryParse<T>((T Value, string Text)[] table, string? text, out T value) where T : struct, Enum
    {
        foreach (var (v, t) in table)
        {
            if (string.Equals(t, text, StringComparison.Ordinal))
            {
                value = v;
                return true;
            }
        }
        value = default;
        return false;
    }
}
