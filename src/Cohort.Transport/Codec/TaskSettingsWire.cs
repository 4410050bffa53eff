using Cohort.Clients;
using WireLocalPrivacy = Cohort.Transport.V1.LocalPrivacy;
using WireTaskSettings = Cohort.Transport.V1.TaskSettings;

namespace Cohort.Transport.Codec;

/// <summary>Converts a task's typed <see cref="TaskSettings"/> to and from its own wire message.</summary>
internal static class TaskSettingsWire
{
    /// <summary>The wire form; null for <see cref="TaskSettings.None"/>, so a task without settings carries no field.</summary>
    public static WireTaskSettings? ToWire(TaskSettings settings)
    {
        if (settings == TaskSettings.None) return null;
        var wire = new WireTaskSettings { Seed = settings.Seed };
        if (settings.LocalPrivacy is { } dp)
            wire.LocalPrivacy = new WireLocalPrivacy { ClippingNorm = dp.ClippingNorm, NoiseMultiplier = dp.NoiseMultiplier, Delta = dp.Delta };
        wire.LocalParameters.AddRange(settings.LocalParameters);
        return wire;
    }

    /// <summary>The typed settings; an absent message reads as <see cref="TaskSettings.None"/>.</summary>
    public static TaskSettings FromWire(WireTaskSettings? wire)
    {
        if (wire is null) return TaskSettings.None;
        var dp = wire.LocalPrivacy is { } p ? new LocalPrivacySettings(p.ClippingNorm, p.NoiseMultiplier, p.Delta) : null;
        if (dp is not null && (!double.IsFinite(dp.ClippingNorm) || dp.ClippingNorm <= 0 || !double.IsFinite(dp.NoiseMultiplier) || dp.NoiseMultiplier < 0))
            throw new InvalidDataException($"task settings: local privacy with clipping norm {dp.ClippingNorm} and noise multiplier {dp.NoiseMultiplier} cannot be applied");
        return new TaskSettings(wire.Seed, dp) { LocalParameters = [.. wire.LocalParameters] };
    }
}
