namespace Cohort.Plans;

/// <summary>
/// The one formula from a plan's seed to the seed of each round's sampling and each client's noise, so
/// that a server, an in-process pool and a simulation draw the same numbers for the same plan.
/// </summary>
internal static class RoundSeed
{
    /// <summary>Seed of round <paramref name="round"/>'s sampling (the asynchronous executor passes the model version).</summary>
    public static int Of(long planSeed, int round) => unchecked((int)(planSeed * 1_000_003 + round * 7919));

    /// <summary>Seed of a retried round's fresh sample (attempt 1, 2, …).</summary>
    public static int OfRetry(long planSeed, int round, int attempt) => unchecked(Of(planSeed, round) + attempt * 104_729);

    /// <summary>Seed of one client's noise in one round: reproducible in a simulation, distinct per client.</summary>
    public static long OfClient(long planSeed, int round, string node)
    {
        long hash = unchecked((long)14695981039346656037UL);
        foreach (char c in node) hash = unchecked((hash ^ c) * 1099511628211L);
        return unchecked(planSeed * 1_000_003 + round * 7919 + hash);
    }
}
