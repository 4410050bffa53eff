using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// A strategy (or wrapper) that carries state from one round to the next — optimiser moments, control
/// variates, a privacy accountant's count — and can hand it over so that a restarted server continues
/// the run exactly as an uninterrupted one would.
/// </summary>
public interface IStatefulStrategy
{
    /// <summary>
    /// The state after the last completed round; later rounds do not change it (a strategy may share its
    /// buffers with the checkpoint until <see cref="StrategyCheckpoint.MarkWritten"/> says it was written out).
    /// </summary>
    StrategyCheckpoint Save();

    /// <summary>Replaces the state with <paramref name="checkpoint"/>, taken from an instance built from the same plan.</summary>
    void Restore(StrategyCheckpoint checkpoint);
}

/// <summary>A strategy's state between rounds: tensors (named by role, e.g. "m/", "v/") and scalars.</summary>
/// <param name="Strategy">The <see cref="IStrategy.Name"/> that saved it; restoring into another strategy is refused.</param>
/// <param name="Tensors">Model-sized state.</param>
/// <param name="Values">Counters and other scalars.</param>
public sealed record StrategyCheckpoint(string Strategy, ParameterSet Tensors, Config Values)
{
    private volatile bool _written;
    private ParameterSet? _tensors = Tensors;

    /// <summary>
    /// A checkpoint whose tensors stay in a file (<paramref name="stored"/>): the model store streams them out
    /// of it, and <see cref="Tensors"/> reads them in only when asked for.
    /// </summary>
    internal StrategyCheckpoint(string strategy, StoredTensors stored, Config values) : this(strategy, (ParameterSet)null!, values) => Stored = stored;

    /// <summary>Model-sized state (read from <see cref="Stored"/> the first time it is asked for, when it is kept there).</summary>
    public ParameterSet Tensors
    {
        get => _tensors ?? LazyInitializer.EnsureInitialized(ref _tensors, Stored!.Load);
        init => _tensors = value;
    }

    /// <summary>The tensors, when they are kept in a file rather than in <see cref="Tensors"/>; null otherwise.</summary>
    internal StoredTensors? Stored { get; }

    /// <summary>True once <see cref="MarkWritten"/> was called: the strategy may reuse the buffers it shares with this checkpoint.</summary>
    internal bool Written => _written;

    /// <summary>
    /// Says that this checkpoint has been written out and will not be read again, so the strategy that saved
    /// it may change the buffers it shares with it instead of copying them first.
    /// </summary>
    internal void MarkWritten()
    {
        if (_written) return;
        _written = true;
        Stored?.WhenWritten?.Invoke();
    }

    // What ToString shows: a state kept in a file is not read in (a model's worth or more) to print a line.
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("Strategy = ").Append(Strategy)
            .Append(", Tensors = ").Append(Stored is { } stored ? stored.Tensors.Count : Tensors.Count).Append(Stored is null ? " in memory" : " in a file")
            .Append(", Values = ").Append(Values.Count);
        return true;
    }

    /// <summary>Checks that this checkpoint was saved by <paramref name="strategy"/>.</summary>
    public void RequireStrategy(string strategy)
    {
        if (Strategy != strategy)
            throw new InvalidOperationException($"checkpoint was saved by strategy '{Strategy}', cannot restore it into '{strategy}'");
    }

    /// <summary>The tensors whose names start with <paramref name="prefix"/>, without it; null when there are none.</summary>
    public ParameterSet? Section(string prefix)
    {
        // Only that part read from a file: not the whole state and then a copy of the part.
        if (Stored is not null && _tensors is null) return Stored.Section(prefix)?.Load();
        var tensors = Tensors.Where(t => t.Name.StartsWith(prefix, StringComparison.Ordinal))
            .Select(t => new Tensor(t.Name[prefix.Length..], t.DType, (int[])t.Shape.Clone(), (byte[])t.Data.Clone()))
            .ToArray();
        return tensors.Length == 0 ? null : new ParameterSet(tensors);
    }

    /// <summary>Copies of <paramref name="set"/>'s tensors with names prefixed by <paramref name="prefix"/>; none when null.</summary>
    public static IEnumerable<Tensor> Prefixed(ParameterSet? set, string prefix) =>
        set is null ? [] : set.Select(t => new Tensor(prefix + t.Name, t.DType, (int[])t.Shape.Clone(), (byte[])t.Data.Clone()));
}
