namespace Cohort.Plans;

/// <summary>
/// What a site checks a run against before training for it (its site policy): the run's strategy,
/// length, privacy and provenance. The server sends these with every task, beside the app, its
/// settings and the task's config.
/// </summary>
public sealed record RunTerms
{
    /// <summary>The plan's strategy name ("fedavg"), without the privacy or personalisation that may wrap it.</summary>
    public required string Strategy { get; init; }

    /// <summary>Rounds the run plans (global updates, for asynchronous runs).</summary>
    public int Rounds { get; init; }

    /// <summary>True when the run's updates are combined by secure aggregation.</summary>
    public bool SecureAggregation { get; init; }

    /// <summary>The run's differential privacy: null for none, "central" or "local".</summary>
    public string? Privacy { get; init; }

    /// <summary>σ, the noise multiplier of the run's differential privacy; null without privacy.</summary>
    public double? NoiseMultiplier { get; init; }

    /// <summary>The plan's tags.</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>Who submitted the run, when the server knows it.</summary>
    public string? Submitter { get; init; }

    /// <summary>The data set the run trains on (the plan's <c>dataset</c>); null when it names none and a node uses its default data.</summary>
    public string? Dataset { get; init; }
}
