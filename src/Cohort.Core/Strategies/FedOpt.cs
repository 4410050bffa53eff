using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// The FedOpt family (Reddi et al., 2021, "Adaptive Federated Optimization", Algorithm 2): the
/// pseudo-gradient Δ = average − global drives a server-side adaptive optimiser,
/// m ← β₁·m + (1 − β₁)·Δ, v ← (per variant), global ← global + η·m / (√v + τ).
/// No bias correction, as in the paper. Streams like FedAvg; keeps two model-sized state buffers, in memory,
/// or in a scratch file past <see cref="StrategyServices.StateOnDiskBytes"/>.
/// </summary>
public abstract class FedOpt : FedAvg, IStatefulStrategy, IDisposable
{
    /// <summary>What the family's registry entries declare.</summary>
    internal const StrategyCapabilities Capabilities =
        StrategyCapabilities.SumBased | StrategyCapabilities.Stateful | StrategyCapabilities.SecureAggregation | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy;

    /// <summary>The parameters the family takes; <paramref name="usesBeta2"/> is false for FedAdagrad.</summary>
    internal static StrategyParameter[] Parameters(bool usesBeta2 = true) =>
    [
        StrategyParameter.Number("server_learning_rate", 0.01, "η, the server learning rate", min: 0, minExclusive: true),
        StrategyParameter.Number("beta_1", 0.9, "β₁, the first-moment decay", min: 0, max: 1, maxExclusive: true),
        StrategyParameter.Number("beta_2", 0.99, usesBeta2 ? "β₂, the second-moment decay" : "unused (accepted for plans shared with fedadam)", min: 0, max: 1, maxExclusive: true),
        StrategyParameter.Number("tau", 1e-3, "τ, the adaptivity floor", min: 0, minExclusive: true),
    ];

    private ParameterSet? _m;
    private ParameterSet? _v;

    // Past StrategyServices.StateOnDiskBytes the moments are kept in a file instead: m's tensors back to back as
    // laid out in _layout, then v's in the same layout _half bytes further on.
    private StateFile? _file;
    private StoredTensor[] _layout = [];
    private long _half;

    /// <summary>
    /// Gives up the file that holds a large model's moments: it closes now, or once a checkpoint that still has
    /// to read it is written. A run stopped or failed before its last round calls this; a strategy is not used after it.
    /// </summary>
    public void Dispose()
    {
        _file?.Abandon();
        GC.SuppressFinalize(this);
    }

    // The round just completed was the run's last: the next Save hands the file over to its checkpoint, so that it
    // is closed (and gone) once that checkpoint is written, without anyone having to dispose of the strategy.
    private bool _lastRoundDone;

    // The last checkpoint handed out, which shares the moments' buffers (copies would be two more models at
    // the end of every round); the next step copies the moments first unless it has been written out.
    private StrategyCheckpoint? _lent;

    /// <summary>Reads η, β₁, β₂ and τ.</summary>
    protected FedOpt(string name, Config parameters, StrategyServices? services, double defaultLearningRate) : base(services)
    {
        var p = new StrategyParameters(name, parameters);
        LearningRate = p.Number("server_learning_rate", defaultLearningRate, v => v > 0, "a number > 0");
        Beta1 = p.Number("beta_1", 0.9, v => v >= 0 && v < 1, "a number in [0, 1)");
        Beta2 = p.Number("beta_2", 0.99, v => v >= 0 && v < 1, "a number in [0, 1)");
        Tau = p.Number("tau", 1e-3, v => v > 0, "a number > 0");
    }

    /// <summary>η, the server learning rate.</summary>
    public double LearningRate { get; }

    /// <summary>β₁, the first-moment decay.</summary>
    public double Beta1 { get; }

    /// <summary>β₂, the second-moment decay (unused by FedAdagrad).</summary>
    public double Beta2 { get; }

    /// <summary>τ, the adaptivity floor added to √v.</summary>
    public double Tau { get; }

    /// <summary>Updates the second moment <paramref name="v"/> from Δ² (<paramref name="deltaSquared"/>, which may be overwritten).</summary>
    protected abstract void UpdateSecondMoment<T>(Span<T> v, Span<T> deltaSquared) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>;

    /// <summary>
    /// Applies the step to <paramref name="global"/> in place, block by block as the mean is read out: the
    /// aggregate is <paramref name="global"/> itself, so the server holds the global model and the two
    /// moments at the end of the round, not the model before and after as well — and past
    /// <see cref="StrategyServices.StateOnDiskBytes"/> not even the moments, which are then read from their
    /// file and written back a window at a time.
    /// </summary>
    public override IFitAggregation BeginAggregateFit(RoundContext round, ParameterSet global) =>
        new PseudoGradientAggregation(global, new AdaptiveStep(this, round, global), AggregationBufferBytes) { SpoolHoldBytes = Services.SpoolHoldBytes };

    /// <inheritdoc />
    public StrategyCheckpoint Save()
    {
        if (_file is not null)
        {
            if (_file.Closed) throw new InvalidOperationException($"{Name}: the optimiser state went with the checkpoint of the run's last round, which has been written out since");
            // Read from the file when it is written out; the next step writes to a copy unless that happened first.
            var stored = new StoredTensors(_file, Layout("m/", 0).Concat(Layout("v/", _half)), _file.Lend());
            if (_lastRoundDone) _file.Abandon();
            return new StrategyCheckpoint(Name, stored, Config.Empty);
        }
        // Shares the moments' buffers; they are copied before the next step changes them unless the
        // checkpoint was written out by then (StrategyCheckpoint.MarkWritten).
        var checkpoint = new StrategyCheckpoint(Name, new ParameterSet(Shared(_m, "m/").Concat(Shared(_v, "v/"))), Config.Empty);
        _lent = checkpoint;
        return checkpoint;
    }

    /// <inheritdoc />
    public void Restore(StrategyCheckpoint checkpoint)
    {
        checkpoint.RequireStrategy(Name);
        ParameterSet? m = null, v = null;
        StateFile? file = null;
        StoredTensor[] layout = [];
        if (checkpoint.Stored is { } stored)
        {
            // A large checkpoint read back from disk, or another instance's state file: copied file to file, never in memory whole.
            var (storedM, storedV) = (stored.Section("m/"), stored.Section("v/"));
            if (Both(storedM, storedV, storedM?.Tensors, storedV?.Tensors) && storedM!.ByteCount >= Services.StateOnDiskBytes)
            {
                (file, layout) = NewFile(storedM.Tensors);
                try
                {
                    for (int i = 0; i < layout.Length; i++)
                    {
                        file.CopyFrom(storedM.Storage, storedM.Tensors[i].Position, layout[i].Position, layout[i].ByteCount);
                        file.CopyFrom(storedV!.Storage, storedV.Tensors[i].Position, storedM.ByteCount + layout[i].Position, layout[i].ByteCount);
                    }
                }
                catch
                {
                    file.Abandon();
                    throw;
                }
            }
            else if (storedM is not null)
            {
                (m, v) = (storedM.Load(), storedV!.Load());
            }
        }
        else
        {
            (m, v) = (checkpoint.Section("m/"), checkpoint.Section("v/"));
            if (m is not null && v is not null && m.ByteCount >= Services.StateOnDiskBytes && Both(m, v, Specs(m), Specs(v)))
            {
                (file, layout) = NewFile(Specs(m));
                for (int i = 0; i < layout.Length; i++)
                {
                    file.Write(layout[i].Position, m[i].Data);
                    file.Write(m.ByteCount + layout[i].Position, v[i].Data);
                }
                (m, v) = (null, null);
            }
        }
        _file?.Abandon();
        (_m, _v, _file, _layout, _half) = (m, v, file, layout, file is null ? 0 : file.Length / 2);
        _lent = null;
        _lastRoundDone = false;
    }

    private static IEnumerable<Parameters.Tensor> Shared(ParameterSet? set, string prefix) =>
        set?.Select(t => new Parameters.Tensor(prefix + t.Name, t.DType, (int[])t.Shape.Clone(), t.Data)) ?? [];

    private IEnumerable<StoredTensor> Layout(string prefix, long offset) =>
        _layout.Select(t => t with { Name = prefix + t.Name, Shape = (int[])t.Shape.Clone(), Position = t.Position + offset });

    private static StoredTensor[] Specs(ParameterSet set) => set.Select(t => new StoredTensor(t.Name, t.DType, t.Shape, 0)).ToArray();

    // True when a checkpoint holds both moments, laid out alike (the file keeps v in m's layout); false when it holds neither.
    private static bool Both(object? m, object? v, IReadOnlyList<StoredTensor>? mSpecs, IReadOnlyList<StoredTensor>? vSpecs)
    {
        if (m is null && v is null) return false;
        if (m is null || v is null) throw new InvalidDataException($"strategy state: holds the {(m is null ? "second" : "first")} moment without the {(m is null ? "first" : "second")}");
        if (mSpecs!.Count != vSpecs!.Count || mSpecs.Where((t, i) => t.Name != vSpecs[i].Name || t.DType != vSpecs[i].DType || !t.Shape.AsSpan().SequenceEqual(vSpecs[i].Shape)).Any())
            throw new InvalidDataException("strategy state: the two moments' tensors differ in names, types or shapes");
        return true;
    }

    // A zeroed file for two moments of these tensors, and where each tensor of the first lies in it.
    private (StateFile File, StoredTensor[] Layout) NewFile(IReadOnlyList<StoredTensor> specs)
    {
        var layout = new StoredTensor[specs.Count];
        long at = 0;
        for (int i = 0; i < layout.Length; i++)
        {
            layout[i] = new StoredTensor(specs[i].Name, specs[i].DType, (int[])specs[i].Shape.Clone(), at);
            at += layout[i].ByteCount;
        }
        return (StateFile.Create(Services.SpillFolder, 2 * at), layout);
    }

    // Whether the round's step keeps the moments on disk: a file already, or a first round with a model past the
    // threshold. The file must be open and laid out as the model is.
    private bool MomentsOnDisk(ParameterSet global)
    {
        if (_file is null)
        {
            if (_m is not null || _v is not null || global.ByteCount < Services.StateOnDiskBytes) return false;
            (_file, _layout) = NewFile(Specs(global));
            _half = _file.Length / 2;
            return true;
        }
        if (!_file.Keep())
            throw new InvalidOperationException($"{Name}: the optimiser state went with the checkpoint of the run's last round, which has been written out since; restore a strategy from that checkpoint to go on");
        _lastRoundDone = false;
        if (_layout.Length != global.Count || _layout.Where((t, i) => !t.HasSameSpec(global[i])).Any())
            throw new InvalidOperationException($"{Name}: the optimiser state holds {string.Join(", ", _layout.Select(t => t.Name))}, the model {string.Join(", ", global.Select(t => t.Name))}: they must match tensor for tensor");
        return true;
    }

    // The file the step may write: a copy when a checkpoint still to be written out reads this one.
    private StateFile WritableFile()
    {
        if (_file!.Lent)
        {
            var copy = _file.Copy(Services.SpillFolder);
            _file.Abandon();
            _file = copy;
        }
        return _file;
    }

    // The moments the round's step will change: fresh ones at the first round, and copies when a checkpoint
    // that is still to be read shares their buffers (taken when the aggregation begins, after the last
    // round's checkpoint was written).
    private (ParameterSet M, ParameterSet V) MomentsFor(ParameterSet global)
    {
        bool copy = _lent is { Written: false };
        _m = _m is null ? global.ZerosLike() : copy ? _m.Clone() : _m;
        _v = _v is null ? global.ZerosLike() : copy ? _v.Clone() : _v;
        _lent = null;
        return (_m, _v);
    }

    // Δ = mean − x, then m ← β₁·m + (1 − β₁)·Δ, v ← (per variant) and x ← x + η·m / (√v + τ), in place over
    // the global model's float tensors; its integer tensors stay as they are. The same operations, element
    // by element, as over whole tensors.
    private sealed class AdaptiveStep : IMeanBlockSink
    {
        private readonly FedOpt _owner;
        private readonly RoundContext _round;
        private readonly ParameterSet _global;
        private readonly MomentWindow? _window;
        private ParameterSet? _m;
        private ParameterSet? _v;

        public AdaptiveStep(FedOpt owner, RoundContext round, ParameterSet global)
        {
            (_owner, _round, _global) = (owner, round, global);
            if (owner.MomentsOnDisk(global)) _window = new MomentWindow(owner);
            else (_m, _v) = owner.MomentsFor(global);
        }

        public void Block<T>(int tensor, int start, Span<T> d) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>
        {
            var x = ParameterMath.View<T>(_global[tensor]).Slice(start, d.Length);
            Span<T> m, v;
            if (_window is not null)
            {
                _window.Moments(tensor, start, d.Length, out m, out v);
            }
            else
            {
                // A checkpoint saved since the aggregation began shares the moments too.
                if (_owner._lent is not null) (_m, _v) = _owner.MomentsFor(_global);
                m = ParameterMath.View<T>(_m![tensor]).Slice(start, d.Length);
                v = ParameterMath.View<T>(_v![tensor]).Slice(start, d.Length);
            }
            T b1 = T.CreateChecked(_owner.Beta1);
            TensorPrimitives.Subtract<T>(d, x, d);
            // m ← β₁·m + (1 − β₁)·Δ
            TensorPrimitives.Multiply<T>(m, b1, m);
            TensorPrimitives.MultiplyAdd<T>(d, T.One - b1, m, m);
            // Δ is no longer needed after m: reuse its buffer for Δ², then for the step.
            TensorPrimitives.Multiply<T>(d, d, d);
            _owner.UpdateSecondMoment(v, d);
            TensorPrimitives.Sqrt<T>(v, d);
            TensorPrimitives.Add<T>(d, T.CreateChecked(_owner.Tau), d);
            TensorPrimitives.Divide<T>(m, d, d);
            TensorPrimitives.MultiplyAdd<T>(d, T.CreateChecked(_owner.LearningRate), x, x);
        }

        public void Finish()
        {
            if (_window is null) return;
            _window.Flush();
            if (_round.Round >= _round.TotalRounds) _owner._lastRoundDone = true;
        }
    }

    // A window of both moments over their file: the values of one tensor from a block's start on, read when a
    // block falls outside the window and written back when the next one is read (or the step finishes). The
    // mean comes out block after block in order, so each byte of the file is read and written once a round, in
    // runs of a mebibyte rather than a system call per block.
    private sealed class MomentWindow(FedOpt owner)
    {
        private const int WindowBytes = 1 << 20;
        private readonly byte[] _m = GC.AllocateUninitializedArray<byte>(WindowBytes);
        private readonly byte[] _v = GC.AllocateUninitializedArray<byte>(WindowBytes);
        private int _tensor = -1;
        private long _start;
        private int _bytes;
        private bool _dirty;

        public void Moments<T>(int tensor, int start, int count, out Span<T> m, out Span<T> v) where T : unmanaged
        {
            int size = Unsafe.SizeOf<T>();
            long from = (long)start * size, to = from + (long)count * size;
            if (tensor != _tensor || from < _start || to > _start + _bytes) Move(tensor, from, to);
            int at = (int)(from - _start);
            m = MemoryMarshal.Cast<byte, T>(_m.AsSpan(at, count * size));
            v = MemoryMarshal.Cast<byte, T>(_v.AsSpan(at, count * size));
            _dirty = true;
        }

        public void Flush() => Flush(owner.WritableFile());

        private void Move(int tensor, long from, long to)
        {
            var file = owner.WritableFile();
            Flush(file);
            var t = owner._layout[tensor];
            (_tensor, _start, _bytes) = (tensor, from, (int)Math.Min(WindowBytes, t.ByteCount - from));
            if (to - from > _bytes) throw new InvalidOperationException($"tensor '{t.Name}': a block of {to - from} bytes at byte {from} does not fit the moments' window of {_bytes}");
            file.Read(t.Position + from, _m.AsSpan(0, _bytes));
            file.Read(owner._half + t.Position + from, _v.AsSpan(0, _bytes));
        }

        private void Flush(StateFile file)
        {
            if (!_dirty) return;
            long position = owner._layout[_tensor].Position + _start;
            file.Write(position, _m.AsSpan(0, _bytes));
            file.Write(owner._half + position, _v.AsSpan(0, _bytes));
            _dirty = false;
        }
    }
}
