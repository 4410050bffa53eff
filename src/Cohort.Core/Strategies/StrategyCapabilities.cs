namespace Cohort.Strategies;

/// <summary>What a strategy can take part in; the plan parser refuses combinations a strategy does not declare.</summary>
[Flags]
public enum StrategyCapabilities
{
    /// <summary>None of the below.</summary>
    None = 0,

    /// <summary>Folds each result into running sums as it arrives: memory is one model whatever the number of nodes.</summary>
    SumBased = 1,

    /// <summary>Needs every update of a round at once (robust statistics): memory is results × model size.</summary>
    NeedsEveryUpdate = 2,

    /// <summary>Can run under <c>asynchronous:</c> (FedBuff's buffer aggregates; the strategy only shapes the fit config).</summary>
    Asynchronous = 4,

    /// <summary>Carries state between rounds and saves it as a checkpoint (<see cref="IStatefulStrategy"/>).</summary>
    Stateful = 8,

    /// <summary>Can be wrapped for <c>personalization:</c> (local tensors stay on the nodes).</summary>
    Personalization = 16,

    /// <summary>Can be wrapped for <c>privacy:</c> (clipped updates, central or local noise).</summary>
    DifferentialPrivacy = 32,

    /// <summary>The new model depends only on weighted sums of the updates, so a secure-aggregation sum could stand in for the updates themselves.</summary>
    SecureAggregation = 64,
}
