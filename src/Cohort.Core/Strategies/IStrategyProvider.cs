namespace Cohort.Strategies;

/// <summary>
/// The strategies a plugin assembly offers. <c>cohort server --plugin FILE.dll</c> (and <c>simulate</c>)
/// creates every public type implementing it (it needs a public parameterless constructor) and
/// registers its strategies under their names.
/// </summary>
public interface IStrategyProvider
{
    /// <summary>The strategies to register.</summary>
    IReadOnlyList<StrategyDescriptor> Strategies { get; }
}
