using Cohort.Engine.Nodes;

namespace Cohort.Engine.Models;

/// <summary>
/// A fit result accepted in a round that has not completed yet, kept beside the run's models so that a
/// server restarted mid-round folds it in again instead of asking its node to train once more.
/// </summary>
/// <param name="Node">The node that sent it.</param>
/// <param name="SentVersion">The model version (round) the node trained from: the round before for synchronous rounds, the version its task carried for FedBuff.</param>
/// <param name="Outcome">The outcome as it arrived (parameters, examples, loss, metrics, duration, upload size).</param>
internal sealed record KeptResult(string Node, int SentVersion, TaskOutcome Outcome);
