using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps;

/// <summary>
/// The server's side of a client app: whether a plan needs the federated statistics step before
/// round 1 and how the nodes' statistics combine into settings every later task carries, and the
/// central evaluation of a plan's <c>central_evaluation</c> file.
/// </summary>
public interface IServerApp
{
    /// <summary>The client app this belongs to ("tabular").</summary>
    string Name { get; }

    /// <summary>Whether <paramref name="plan"/> needs statistics from the nodes before round 1.</summary>
    bool NeedsStatistics(Plan plan);

    /// <summary>
    /// Combines the nodes' statistics into app settings added to the plan's for every later task (the
    /// same at every node). Throws <see cref="InvalidDataException"/> with one message naming every node
    /// whose statistics do not fit (a different schema).
    /// </summary>
    Config AggregateStatistics(Plan plan, IReadOnlyList<NodeStatistics> nodes);

    /// <summary>The evaluation of the global model on the plan's <c>central_evaluation</c> file (or, in a simulation, its held-out rows), preprocessed as the plan's app settings (statistics included) say; null when there is none.</summary>
    CentralEvaluator? CreateCentralEvaluator(Plan plan);
}

/// <summary>One node's answer to the statistics task.</summary>
/// <param name="Node">The node.</param>
/// <param name="Examples">Training rows it described.</param>
/// <param name="Metrics">Its statistics, in the app's format.</param>
public sealed record NodeStatistics(string Node, long Examples, Metrics Metrics);
