using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// Everything the registry knows of a strategy: the name a plan uses, what it can take part in, the
/// parameters it takes and how to create it. Built-in strategies expose theirs as <c>Descriptor</c>.
/// </summary>
/// <param name="Name">The plan name ("fedavg").</param>
/// <param name="Summary">One line: the algorithm and its paper.</param>
/// <param name="Capabilities">What the strategy can take part in.</param>
/// <param name="Parameters">The keys it takes under <c>strategy.params</c>; any other key is refused.</param>
/// <param name="Create">Creates an instance from checked parameters.</param>
public sealed record StrategyDescriptor(string Name, string Summary, StrategyCapabilities Capabilities, IReadOnlyList<StrategyParameter> Parameters, StrategyFactory Create)
{
    /// <summary>
    /// What the strategy costs the server in memory during aggregation, beyond the process itself, when
    /// that is more than running sums (the strategies that need every update state their bound); null
    /// when it says nothing.
    /// </summary>
    public string? MemoryBound { get; init; }

    /// <summary>
    /// The fewest usable fit results a round needs with the given <c>strategy.params</c> (already checked), when
    /// that is more than one; null when any number will do.
    /// </summary>
    public Func<Config, ResultsNeeded>? NeedsResults { get; init; }

    /// <summary>True when the strategy declares every flag of <paramref name="capabilities"/>.</summary>
    public bool Has(StrategyCapabilities capabilities) => (Capabilities & capabilities) == capabilities;

    /// <summary>The parameter called <paramref name="key"/>, or null.</summary>
    public StrategyParameter? Parameter(string key) => Parameters.FirstOrDefault(p => p.Name == key);

    /// <summary>The problem with <paramref name="key"/> = <paramref name="value"/>, or null when the strategy takes it.</summary>
    public StrategyParameterException? Check(string key, Scalar value)
    {
        if (Parameter(key) is not { } parameter)
        {
            string takes = Parameters.Count == 0 ? "it takes none" : $"it takes: {string.Join(", ", Parameters.Select(p => p.Name))}";
            return new StrategyParameterException(key, $"strategy '{Name}' has no parameter '{key}' ({takes}){NearestName.Hint(key, Parameters.Select(p => p.Name))}")
            {
                IsUnknown = true,
            };
        }
        return parameter.Accepts(value)
            ? null
            : new StrategyParameterException(key, $"strategy '{Name}': params.{key} is {value}, must be {parameter.Rule}");
    }

    /// <summary>Throws <see cref="StrategyParameterException"/> for the first key the strategy does not take or value it cannot use.</summary>
    public void Validate(Config parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        foreach (var (key, value) in parameters)
        {
            if (Check(key, value) is { } problem) throw problem;
        }
    }
}
