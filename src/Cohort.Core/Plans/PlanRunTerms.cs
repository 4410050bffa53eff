namespace Cohort.Plans;

/// <summary>Builds a run's <see cref="RunTerms"/> from its <see cref="Plan"/> (the terms live in the client contract, which knows no plans).</summary>
public static class PlanRunTerms
{
    extension(RunTerms)
    {
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
                Dataset = plan.Dataset,
            };
        }
    }
}
