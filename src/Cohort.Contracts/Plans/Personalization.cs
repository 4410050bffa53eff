namespace Cohort.Plans;

/// <summary>
/// The plan's <c>personalization</c> section: tensors whose names match one of <see cref="Local"/>
/// (exact names, or patterns with <c>*</c>) are trained and kept on each node and never sent back
/// (FedPer's heads, FedBN's normalisation statistics); evaluation uses each node's own copy.
/// </summary>
public sealed record Personalization
{
    /// <summary>Name patterns of the local tensors.</summary>
    public IReadOnlyList<string> Local { get; init; } = [];

    /// <summary>True when some tensors stay local.</summary>
    public bool Enabled => Local.Count > 0;

    /// <summary>True when <paramref name="name"/> matches a pattern.</summary>
    public bool IsLocal(string name)
    {
        foreach (var p in Local)
            if (LocalParameterPattern.Matches(p, name)) return true;
        return false;
    }
}
