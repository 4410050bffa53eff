using Cohort.Apps;
using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>Server-side evaluation of the global model on data the server holds.</summary>
public delegate Task<EvaluateResult?> CentralEvaluator(int round, ParameterSet global, CancellationToken ct);

/// <summary>What the server offers a strategy when it creates one.</summary>
/// <param name="InitialParameters">Starting model, or null to ask a node.</param>
/// <param name="CentralEvaluator">Server-side evaluation, or null.</param>
public sealed record StrategyServices(ParameterSet? InitialParameters = null, CentralEvaluator? CentralEvaluator = null)
{
    /// <summary>Nothing offered.</summary>
    public static StrategyServices None { get; } = new();
}
