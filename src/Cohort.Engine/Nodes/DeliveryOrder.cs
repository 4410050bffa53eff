namespace Cohort.Engine.Nodes;

/// <summary>In which order an in-process pool hands finished tasks to the executor.</summary>
internal enum DeliveryOrder
{
    /// <summary>As they finish, like real nodes: a slow node's result comes last.</summary>
    Arrival,

    /// <summary>
    /// In the order they were submitted (the strategy's sampled order): the executor folds results in a
    /// fixed order, so float sums, and with them the models, are bit-identical from run to run.
    /// </summary>
    Submission,
}
