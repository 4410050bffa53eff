using Cohort.Engine.State;
using Cohort.Transport.V1;

namespace Cohort.Cli.Control;

/// <summary>
/// Statuses as the Control API sends them (text), read back into Cohort's types through <see cref="StatusText"/>, so
/// the command line compares values and a status the server renamed fails loudly instead of never matching.
/// </summary>
internal static class WireStatus
{
    /// <summary>The run's status.</summary>
    public static RunStatus TypedStatus(this RunInfo run) =>
        StatusText.TryParseRunStatus(run.Status, out var status) ? status : throw new CliException($"server sent an unknown status '{run.Status}' for run {run.Id}");

    /// <summary>The round's status.</summary>
    public static RoundStatus TypedStatus(this RoundInfo round) =>
        StatusText.TryParseRoundStatus(round.Status, out var status) ? status : throw new CliException($"server sent an unknown status '{round.Status}' for round {round.Round}");

    /// <summary>The task kind a node result's phase names.</summary>
    public static Cohort.Clients.TaskKind TypedPhase(this NodeRoundResult result) =>
        StatusText.TryParsePhase(result.Phase, out var kind) ? kind : throw new CliException($"server sent an unknown phase '{result.Phase}' for node {result.Node}");

    /// <summary>The node's status.</summary>
    public static NodeStatus TypedStatus(this NodeInfo node) =>
        StatusText.TryParseNodeStatus(node.Status, out var status) ? status : throw new CliException($"server sent an unknown status '{node.Status}' for node {node.Name}");
}
