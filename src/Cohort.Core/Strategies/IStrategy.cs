using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Server-side algorithm of a run: chooses which nodes train with what, folds their results into the
/// next global model, and summarises evaluations. Called by the server for one round at a time.
/// </summary>
public interface IStrategy
{
    /// <summary>Name a plan uses ("fedavg").</summary>
    string Name { get; }

    /// <summary>Initial global parameters, or null to ask one node for its app's parameters.</summary>
    ParameterSet? InitializeParameters();

    /// <summary>The fit tasks of a round: which nodes, with what parameters and config.</summary>
    IReadOnlyList<NodeInstruction> ConfigureFit(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes);

    /// <summary>Starts folding this round's fit results; results are then added as they arrive.</summary>
    IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global);

    /// <summary>The evaluate tasks of a round; empty to skip federated evaluation.</summary>
    IReadOnlyList<NodeInstruction> ConfigureEvaluate(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes);

    /// <summary>Combines the nodes' evaluation results into one loss and metrics.</summary>
    EvaluateAggregate AggregateEvaluate(RoundContext round, IReadOnlyList<NodeResult<EvaluateResult>> results, IReadOnlyList<NodeFailure> failures);

    /// <summary>Evaluates the global model on the server's own data, or returns null when there is none.</summary>
    Task<EvaluateResult?> EvaluateCentralAsync(RoundContext round, ParameterSet global, CancellationToken ct);
}

/// <summary>
/// A round's fit aggregation in progress. <see cref="Add"/> is called once per successful result, one
/// call at a time, as results arrive, so sum-based strategies keep only running sums.
/// </summary>
public interface IFitAggregation : IDisposable
{
    /// <summary>Folds one node's result in. The result's parameters have already been validated against the global model's shapes.</summary>
    void Add(string node, FitResult result);

    /// <summary>Produces the new global parameters; throws <see cref="AggregationException"/> when it cannot.</summary>
    FitAggregate Complete(IReadOnlyList<NodeFailure> failures);
}

/// <summary>Everything a strategy may want to know about the round it is configuring.</summary>
/// <param name="RunId">The run.</param>
/// <param name="Round">1-based round number.</param>
/// <param name="TotalRounds">Rounds planned.</param>
/// <param name="Selection">Sampling limits from the plan.</param>
/// <param name="FitConfig">The config every fit task carries (training settings of the plan, schedule applied).</param>
/// <param name="EvaluateConfig">The config every evaluate task carries.</param>
/// <param name="Random">Seeded generator for this round's sampling.</param>
public sealed record RoundContext(string RunId, int Round, int TotalRounds, Selection Selection, Config FitConfig, Config EvaluateConfig, Random Random);

/// <summary>How many nodes a round samples.</summary>
/// <param name="MinAvailable">Nodes that must be online before a round starts.</param>
/// <param name="MinFit">Fit results a round needs to aggregate (and the least it samples).</param>
/// <param name="MinEvaluate">Evaluation results a round needs (and the least it samples).</param>
/// <param name="FractionFit">Share of available nodes sampled for fit.</param>
/// <param name="FractionEvaluate">Share of available nodes sampled for evaluation; 0 skips it.</param>
public sealed record Selection(int MinAvailable = 1, int MinFit = 1, int MinEvaluate = 1, double FractionFit = 1.0, double FractionEvaluate = 1.0)
{
    /// <summary>Only these nodes may take part (plan key <c>selection.nodes</c>); empty allows every node with the plan's app.</summary>
    public IReadOnlyList<string> Nodes { get; init; } = [];

    /// <summary>
    /// Closes a synchronous round's fit phase once this many usable results are in (plan key
    /// <c>selection.accept_first</c>, over-selection); the tasks still open are withdrawn and their late
    /// results ignored. Null waits for every sampled node, up to the round timeout.
    /// </summary>
    public int? AcceptFirst { get; init; }

    /// <summary>
    /// The eligible nodes a round waits for before it starts, and the plan setting that asks for them: <c>min_fit</c> when it
    /// is above <c>min_available</c> (a round samples at least that many; with fewer it could only fail), else <c>min_available</c>.
    /// </summary>
    internal (int Nodes, string Setting) RoundStart => MinFit > MinAvailable ? (MinFit, "min_fit") : (MinAvailable, "min_available");

    /// <summary>The nodes of <paramref name="available"/> this selection allows, in their order.</summary>
    public IReadOnlyList<string> Allowed(IReadOnlyList<string> available) =>
        Nodes.Count == 0 ? available : available.Where(Nodes.Contains).ToArray();
}

/// <summary>One task for one node.</summary>
/// <param name="Node">The node.</param>
/// <param name="Parameters">Tensors sent with the task.</param>
/// <param name="Config">The task's config.</param>
/// <param name="ExpectedResult">
/// Names, dtypes and shapes a fit result must have; null means the global model's. Strategies that
/// ask for more than the model (SCAFFOLD's control-variate updates) or less (personalised layers kept
/// on the node) supply their own.
/// </param>
public sealed record NodeInstruction(string Node, ParameterSet Parameters, Config Config, ParameterSet? ExpectedResult = null);

/// <summary>A node's successful result.</summary>
public sealed record NodeResult<T>(string Node, T Result);

/// <summary>A node that did not deliver a usable result, and why.</summary>
public sealed record NodeFailure(string Node, string Reason);

/// <summary>The new global model and the round's fit metrics.</summary>
public sealed record FitAggregate(ParameterSet Parameters, Metrics Metrics);

/// <summary>The round's federated evaluation summary.</summary>
public sealed record EvaluateAggregate(double Loss, long Examples, Metrics Metrics);

/// <summary>Aggregation could not produce a model (e.g. no results); the message says why.</summary>
public sealed class AggregationException(string message) : Exception(message);
