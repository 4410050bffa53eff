using System.Collections.Concurrent;
using Cohort.Apps;
using Cohort.Plans;
using Cohort.Privacy;

namespace Cohort.Clients;

/// <summary>
/// Client side of local differential privacy: when a fit task's settings carry local privacy, the
/// update is clipped and noised before it leaves the site, and the privacy spent by this node in this
/// run is reported. Noise comes from the cryptographic generator, or, for reproducible simulations,
/// from a seed derived from the plan seed, round and node.
/// </summary>
internal sealed class LocalPrivacyStep(bool seeded = false) : IClientStep
{
    private readonly ConcurrentDictionary<(string Run, string Node), int> _releases = new();

    /// <inheritdoc />
    public async Task<ClientReply> InvokeAsync(ClientTask task, ClientTaskHandler next, CancellationToken ct)
    {
        var reply = await next(task, ct);
        if (task.Kind != TaskKind.Fit || !reply.Ok || reply.Parameters is null || task.Parameters is null || task.Settings.LocalPrivacy is not { } dp)
            return reply;
        var noise = new GaussianNoise(seeded ? RoundSeed.OfClient(task.Settings.Seed, task.Round, task.Node) : null);
        int releases = _releases.AddOrUpdate((task.RunId, task.Node), 1, (_, n) => n + 1);
        var released = LocalDifferentialPrivacy.Release(task.Parameters, new FitResult(reply.Parameters, reply.Examples, reply.Metrics), dp, noise, releases);
        return reply with { Parameters = released.Parameters, Metrics = released.Metrics };
    }
}
