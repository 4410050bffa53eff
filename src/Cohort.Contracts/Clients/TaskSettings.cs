namespace Cohort.Clients;

/// <summary>
/// What Cohort itself tells a client about a task, typed and apart from the config the app reads
/// (training settings and the plan's <c>config</c> entries): the client steps act on it, the app never
/// sees it. It travels in its own field of the task on the wire.
/// </summary>
/// <param name="Seed">The plan's seed; a simulation's local-privacy noise derives from it.</param>
/// <param name="LocalPrivacy">Local differential privacy the node applies to a fit result before it leaves; null for none.</param>
internal sealed record TaskSettings(long Seed = 0, LocalPrivacySettings? LocalPrivacy = null)
{
    /// <summary>Patterns of the tensors each node keeps to itself (personalisation); empty for none.</summary>
    public IReadOnlyList<string> LocalParameters { get; init; } = [];

    /// <summary>No settings: no local privacy, no local tensors.</summary>
    public static TaskSettings None { get; } = new();

    /// <inheritdoc />
    public bool Equals(TaskSettings? other) =>
        other is not null && Seed == other.Seed && LocalPrivacy == other.LocalPrivacy && LocalParameters.SequenceEqual(other.LocalParameters);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Seed, LocalPrivacy, LocalParameters.Count);
}

/// <summary>A node's share of local differential privacy: clip the update to <paramref name="ClippingNorm"/>, add noise σ·C, report (ε, δ).</summary>
/// <param name="ClippingNorm">C, the largest L2 norm of an update.</param>
/// <param name="NoiseMultiplier">σ, the noise standard deviation relative to C.</param>
/// <param name="Delta">δ of the reported (ε, δ).</param>
internal sealed record LocalPrivacySettings(double ClippingNorm, double NoiseMultiplier, double Delta);
