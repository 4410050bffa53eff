namespace Cohort.Strategies;

/// <summary>
/// The fewest usable fit results a strategy can aggregate with its parameters, and the rule that sets it
/// ("2f + 3 (n > 2f + 2) with params.byzantine = 1"). A plan whose <c>selection.min_fit</c> is below it is
/// refused when it is read, not in its first round.
/// </summary>
/// <param name="Count">The fewest results a round needs.</param>
/// <param name="Rule">How the count follows from the parameters, for messages.</param>
public sealed record ResultsNeeded(long Count, string Rule);
