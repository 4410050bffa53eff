namespace Cohort.Apps;

/// <summary>
/// A client app factory that cannot take part in runs of some strategies, and says so before a run starts: in a node's
/// preflight at submit, in a simulation's preflight and in <c>cohort plan check</c>, instead of failing in round 1. A node
/// running one app instance asks the instance. A node answering a server that sends no strategy (an older one) is not
/// asked; the app should still refuse such a task itself.
/// </summary>
public interface IStrategyLimitedApp
{
    /// <summary>
    /// Why the app cannot train under <paramref name="strategy"/> (the plan's strategy name as written there: compare it
    /// ignoring case), in one sentence; null when it can.
    /// </summary>
    string? Refusal(string strategy);
}

/// <summary>What an app factory says of a strategy, for the three preflights.</summary>
internal static class StrategyLimits
{
    /// <summary>
    /// The factory's refusal of <paramref name="strategy"/>; null when it takes part or does not say. A check that throws (a
    /// plugin's) is a refusal naming the exception's type, not its text, which may hold the site's data.
    /// </summary>
    public static string? RefusalOf(IClientAppFactory factory, string? strategy)
    {
        if (factory is not IStrategyLimitedApp limited || string.IsNullOrEmpty(strategy)) return null;
        try
        {
            return limited.Refusal(strategy);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return $"the app's check of strategy '{strategy}' failed: {e.GetType().Name}";
        }
    }
}
