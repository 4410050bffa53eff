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

    /// <summary>The terms of a run of <paramref name="plan"/>.</summary>
    public static RunTerms Of(Plan plan, string? submitter = null)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new RunTerms
        {
            Strategy = plan.Strategy.Name,
            Rounds = plan.Rounds,
            // Cohort has no secure aggregation yet: no run offers it, so a site that requires it refuses every run.
            SecureAggregation = false,
            Privacy = plan.Privacy is { } dp ? (dp.Local ? "local" : "central") : null,
            NoiseMultiplier = plan.Privacy?.NoiseMultiplier,
            Tags = plan.Tags,
            Submitter = submitter,
        };
    }
}
