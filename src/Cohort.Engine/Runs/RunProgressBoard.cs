using System.Collections.Immutable;

namespace Cohort.Engine.Runs;

/// <summary>
/// Holds each running run's latest <see cref="RoundProgress"/> in an immutable map that a publish swaps atomically,
/// so readers (dashboard, Control API, metrics) always see a consistent snapshot without locks. Only the executor
/// that owns it publishes; everyone else sees it as <see cref="IRunProgress"/>.
/// </summary>
internal sealed class RunProgressBoard : IRunProgress
{
    private ImmutableDictionary<string, RoundProgress> _runs = ImmutableDictionary.Create<string, RoundProgress>(StringComparer.Ordinal);

    /// <inheritdoc />
    public IReadOnlyDictionary<string, RoundProgress> All => Volatile.Read(ref _runs);

    /// <inheritdoc />
    public RoundProgress? Of(string runId) => Volatile.Read(ref _runs).GetValueOrDefault(runId);

    /// <summary>Makes <paramref name="progress"/> the run's latest.</summary>
    public void Publish(RoundProgress progress) => ImmutableInterlocked.AddOrUpdate(ref _runs, progress.RunId, progress, (_, _) => progress);

    /// <summary>Forgets the run (it ended or stopped).</summary>
    public void Clear(string runId) => ImmutableInterlocked.TryRemove(ref _runs, runId, out _);
}
