using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>
/// Σ wᵢ·xᵢ over whole models whose value does not depend on the order of the terms or on how they
/// are batched: every weighted value is rounded once, by itself, to an integer multiple of a power of
/// two and summed in 64-bit integers, which is exact and therefore associative.
/// </summary>
/// <remarks>
/// Each float tensor is cut into blocks of <see cref="BlockValues"/> values. For one term and one
/// block, the quantum is 2^q = 2^(E − <see cref="PrecisionBits"/>) (float64 tensors:
/// <see cref="DoublePrecisionBits"/>) where 2^E bounds that block's largest |w·x|; each value becomes
/// the float64 product x·(w·2^−q) rounded to the nearest integer, so a term's error is at most 2^−41
/// (float64: 2^−45) of its block's largest value and depends on nothing but the term. The block's
/// accumulator counts in the finest quantum any term used; a term with a coarser quantum is an exact
/// multiple of it and is shifted in. A running bound Σ 2^E proves that no partial sum can leave the
/// int64 range; only when a round would pass it (about 2^22 terms of similar magnitude, or fewer whose
/// magnitudes spread widely; float64: 2^18) is the block coarsened, which rounds again, and
/// <see cref="Exact"/> turns false.
/// Only correctly rounded IEEE operations are used (a product, a scaling by a power of two, rounding
/// to an integer, an addition), never a fused multiply-add, so the vector and scalar paths agree bit for bit.
/// </remarks>
public sealed class ReproducibleSum : IDisposable
{
    /// <summary>Values per block sharing one quantum; 16K int64 (128 KiB) of accumulator stay in L2 while terms stream through.</summary>
    public const int BlockValues = 16 << 10;

    /// <summary>Bits a float32 term keeps below the largest |w·x| of its block.</summary>
    public const int PrecisionBits = 40;

    /// <summary>Bits a float64 term keeps below the largest |w·x| of its block.</summary>
    public const int DoublePrecisionBits = 44;

    // |accumulator| stays below 2^62: one bit of slack for the final rounding of each term.
    private const int LimitBits = 62;

    // 1.5·2^52: adding it to |v| < 2^51 leaves round-to-nearest-even(v) in the low mantissa bits.
    private const double RoundingMagic = 6755399441055744.0;
    private const long RoundingMagicBits = 0x4338000000000000;

    /// <summary>
    /// Values per accumulator segment: 8M int64 (64 MiB), above the C library's largest threshold for
    /// serving an allocation from its own mapping, so each segment is mapped on its own, its pages become
    /// resident only once written, and freeing it gives the memory back to the system at once.
    /// </summary>
    internal const int SegmentValues = 512 * BlockValues;

    private readonly ParameterSet _template;
    private readonly Segments?[] _sums;
    private readonly int[]?[] _quanta;
    private readonly double[]?[] _bounds;
    private readonly int[] _lengths;
    private bool _disposed;
    private bool _written;

    /// <summary>Starts an empty sum shaped like the float tensors of <paramref name="template"/> (other dtypes are ignored).</summary>
    public ReproducibleSum(ParameterSet template)
    {
        _template = template;
        _sums = new Segments?[template.Count];
        _quanta = new int[]?[template.Count];
        _bounds = new double[]?[template.Count];
        _lengths = new int[template.Count];
        for (int i = 0; i < template.Count; i++)
        {
            if (!ParameterMath.IsFloat(template[i].DType)) continue;
            int length = template[i].Data.Length / template[i].DType.Size();
            int blocks = (length + BlockValues - 1) / BlockValues;
            // Native and zeroed by the system: 8 bytes a value are the largest buffer of a round, and a
            // managed array would stay resident (or pooled) after the round; this one is freed segment by
            // segment as the result is read out.
            _sums[i] = new Segments(length);
            _lengths[i] = length;
            _quanta[i] = new int[blocks];
            Array.Fill(_quanta[i]!, int.MaxValue);
            _bounds[i] = new double[blocks];
        }
    }

    /// <summary>False once some block had to be coarsened to stay in range; the sum may then depend on the order of terms.</summary>
    public bool Exact { get; private set; } = true;

    /// <summary>Adds <paramref name="weight"/>·<paramref name="x"/>; <paramref name="x"/> has the template's tensors (it may have more, which are ignored).</summary>
    public void Add(ParameterSet x, double weight) => AddRange([(x, weight)]);

    /// <summary>
    /// Adds several weighted terms block by block, so each block of the accumulator is read and written
    /// once for all of them. The outcome is the same as adding them one at a time in any order.
    /// </summary>
    public void AddRange(IReadOnlyList<(ParameterSet Terms, double Weight)> terms)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (terms.Count == 0) return;
        BeforeFirstWrite();
        for (int i = 0; i < _sums.Length; i++)
        {
            if (_sums[i] is not { } sum) continue;
            int blocks = _quanta[i]!.Length;
            for (int b = 0; b < blocks; b++)
            {
                int start = b * BlockValues, n = Math.Min(BlockValues, _lengths[i] - start);
                var acc = sum.Slice(start, n);
                foreach (var (x, weight) in terms)
                {
                    if (weight == 0) continue;
                    var t = x[i];
                    if (t.DType == DType.Float32) AddBlock(i, b, acc, MemoryMarshal.Cast<byte, float>(t.Data.AsSpan()).Slice(start, n), weight, t.Name);
                    else AddBlock(i, b, acc, MemoryMarshal.Cast<byte, double>(t.Data.AsSpan()).Slice(start, n), weight, t.Name);
                }
            }
        }
    }

    /// <summary>
    /// Adds <paramref name="weight"/>·<paramref name="x"/> read from its file one block at a time, so the
    /// term is never in memory whole; the outcome is the same as adding it loaded. <paramref name="x"/>
    /// has the template's tensors first (names, dtypes and sizes; more are ignored).
    /// </summary>
    internal void Add(SpooledParameters x, double weight)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckShape(x);
        if (weight == 0) return;
        BeforeFirstWrite();
        byte[] scratch = ArrayPool<byte>.Shared.Rent(BlockValues * sizeof(double));
        try
        {
            for (int i = 0; i < _sums.Length; i++)
            {
                if (_sums[i] is not { } sum) continue;
                for (int b = 0; b < _quanta[i]!.Length; b++) AddBlock(i, b, sum, x, weight, scratch);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Checks, without adding it, that <paramref name="weight"/>·<paramref name="x"/> can be added later
    /// (held, when the sum is read out): the
    /// template's tensors come first, and no weighted value leaves the double range, the one way a term
    /// whose values are finite can still be refused. Float32 values times any int64 weight stay far
    /// inside it, so only float64 tensors are read (a block at a time).
    /// </summary>
    internal void Check(SpooledParameters x, double weight)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckShape(x);
        if (weight == 0) return;
        byte[]? scratch = null;
        try
        {
            for (int i = 0; i < _sums.Length; i++)
            {
                if (_sums[i] is null || _template[i].DType != DType.Float64) continue;
                scratch ??= ArrayPool<byte>.Shared.Rent(BlockValues * sizeof(double));
                for (int start = 0; start < _lengths[i]; start += BlockValues)
                {
                    int n = Math.Min(BlockValues, _lengths[i] - start);
                    var bytes = scratch.AsSpan(0, n * sizeof(double));
                    x.Read(i, (long)start * sizeof(double), bytes);
                    double largest = TensorPrimitives.MaxMagnitude(MemoryMarshal.Cast<byte, double>(bytes)) * Math.Abs(weight);
                    if (!double.IsFinite(largest)) throw new AggregationException($"tensor '{_template[i].Name}' holds a value that is not finite (or its weight {weight} overflows)");
                }
            }
        }
        finally
        {
            if (scratch is not null) ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Checks that <paramref name="x"/> has the template's tensors first (names, dtypes and sizes, integer ones too).</summary>
    internal void CheckShape(SpooledParameters x)
    {
        if (x.Count < _template.Count) throw new AggregationException($"expected {_template.Count} tensors, got {x.Count}");
        for (int i = 0; i < _template.Count; i++)
        {
            var spec = _template[i];
            if (x.Names[i] != spec.Name || x.DTypes[i] != spec.DType || x.BytesOf(i) != spec.Data.LongLength)
                throw new AggregationException($"tensor {i}: expected {spec.Spec}, got {x.Names[i]} {x.DTypes[i].Name()}[{string.Join(",", x.Shapes[i])}]");
        }
    }

    // Adds block b of tensor i of a spooled term, read into scratch.
    private void AddBlock(int i, int b, Segments sum, SpooledParameters x, double weight, byte[] scratch)
    {
        var spec = _template[i];
        int size = spec.DType.Size();
        int start = b * BlockValues, n = Math.Min(BlockValues, _lengths[i] - start);
        var bytes = scratch.AsSpan(0, n * size);
        x.Read(i, (long)start * size, bytes);
        var acc = sum.Slice(start, n);
        if (spec.DType == DType.Float32) AddBlock(i, b, acc, MemoryMarshal.Cast<byte, float>(bytes), weight, spec.Name);
        else AddBlock(i, b, acc, MemoryMarshal.Cast<byte, double>(bytes), weight, spec.Name);
    }

    /// <summary>The sum times <paramref name="scale"/>, shaped like the template; integer tensors are zeros.</summary>
    public ParameterSet ToParameterSet(double scale) => ToParameterSet(scale, release: false);

    /// <summary>
    /// The sum times <paramref name="scale"/>, shaped like the template (integer tensors are zeros); with
    /// <paramref name="release"/> each accumulator segment is freed as soon as it is read out, so the result
    /// (4 or 8 bytes a value) grows while the accumulator (8) shrinks and the two never add up to more
    /// than the accumulator alone — the sum cannot be used afterwards.
    /// </summary>
    internal ParameterSet ToParameterSet(double scale, bool release) => ReadOut(scale, release, [])!;

    /// <summary>
    /// Adds the spooled <paramref name="held"/> terms and reads the sum times <paramref name="scale"/> out,
    /// segment by segment: each block of the accumulator gets every held term's part of it (read from the
    /// terms' files) and is converted at once, and each segment is freed when its last block is read
    /// out. So the accumulator is never resident whole: the result grows to one model while at most one
    /// segment (<see cref="SegmentValues"/>) of the accumulator is written and not yet freed, besides what
    /// earlier <see cref="Add(SpooledParameters, double)"/> or <see cref="AddRange"/> calls wrote. The
    /// outcome is the same as adding the terms first and reading out afterwards (the sum is exact, so the
    /// order of terms does not matter); each term must have passed <see cref="Check"/>. The sum cannot be
    /// used afterwards.
    /// </summary>
    internal ParameterSet ToParameterSet(double scale, IReadOnlyList<(SpooledParameters Terms, double Weight)> held) => ReadOut(scale, true, held)!;

    /// <summary>
    /// As <see cref="ToParameterSet(double, IReadOnlyList{ValueTuple{SpooledParameters, double}})"/>, but each
    /// block of the float tensors' result goes to <paramref name="sink"/> (in a scratch buffer) and no model
    /// is allocated: a server step that writes the new model over the global one keeps two models (global
    /// and its own state) resident instead of three.
    /// </summary>
    internal void ReadOutInto(double scale, IReadOnlyList<(SpooledParameters Terms, double Weight)> held, IMeanBlockSink sink) => ReadOut(scale, true, held, sink);

    private ParameterSet? ReadOut(double scale, bool release, IReadOnlyList<(SpooledParameters Terms, double Weight)> held, IMeanBlockSink? sink = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        bool folding = false;
        foreach (var (_, weight) in held) folding |= weight != 0;
        // Before the result is allocated too: the model before last must be gone before either is written.
        if (folding) BeforeFirstWrite();
        byte[]? scratch = folding ? ArrayPool<byte>.Shared.Rent(BlockValues * sizeof(double)) : null;
        byte[]? block = sink is null ? null : ArrayPool<byte>.Shared.Rent(BlockValues * sizeof(double));
        try
        {
            return ReadOut(scale, release, held, scratch, sink, block);
        }
        finally
        {
            if (scratch is not null) ArrayPool<byte>.Shared.Return(scratch);
            if (block is not null) ArrayPool<byte>.Shared.Return(block);
        }
    }

    private ParameterSet? ReadOut(double scale, bool release, IReadOnlyList<(SpooledParameters Terms, double Weight)> held, byte[]? scratch, IMeanBlockSink? sink, byte[]? block)
    {
        // Uninitialized, every value written below: a zeroed array would be resident whole at once, beside
        // the accumulator it is about to replace.
        var result = sink is not null ? null : new ParameterSet(Enumerable.Range(0, _template.Count).Select(i => _template[i] is var t && _sums[i] is null
            ? Parameters.Tensor.Zeros(t.Name, t.DType, (int[])t.Shape.Clone())
            : new Parameters.Tensor(t.Name, t.DType, (int[])t.Shape.Clone(), GC.AllocateUninitializedArray<byte>(t.Data.Length))));
        for (int i = 0; i < _sums.Length; i++)
        {
            if (_sums[i] is not { } sum) continue;
            var quanta = _quanta[i]!;
            for (int b = 0; b < quanta.Length; b++)
            {
                int start = b * BlockValues, n = Math.Min(BlockValues, _lengths[i] - start);
                var dtype = _template[i].DType;
                int size = dtype.Size();
                // Block-major over the held terms: the block's 128 KiB of accumulator stay in cache while each term's part passes through.
                foreach (var (x, weight) in held)
                {
                    if (weight != 0) AddBlock(i, b, sum, x, weight, scratch!);
                }
                var destination = result is not null ? result[i].Data.AsSpan(start * size, n * size) : block.AsSpan(0, n * size);
                if (quanta[b] == int.MaxValue) destination.Clear(); // nothing added: zero
                else
                {
                    double factor = Math.ScaleB(scale, quanta[b]);
                    if (!double.IsFinite(factor)) throw new AggregationException($"tensor '{_template[i].Name}': scale {scale} leaves the double range");
                    if (dtype == DType.Float32) Convert(sum.Slice(start, n), factor, MemoryMarshal.Cast<byte, float>(destination));
                    else Convert(sum.Slice(start, n), factor, MemoryMarshal.Cast<byte, double>(destination));
                }
                if (sink is not null)
                {
                    if (dtype == DType.Float32) sink.Block(i, start, MemoryMarshal.Cast<byte, float>(destination));
                    else sink.Block(i, start, MemoryMarshal.Cast<byte, double>(destination));
                }
                if (release && (start + n) % SegmentValues == 0) sum.FreeThrough(start + n);
            }
            if (release)
            {
                sum.Dispose();
                _sums[i] = null;
            }
        }
        if (release) _disposed = true;
        return result;
    }

    /// <summary>Frees the accumulators; the sum cannot be used afterwards.</summary>
    public void Dispose()
    {
        _disposed = true;
        for (int i = 0; i < _sums.Length; i++)
        {
            _sums[i]?.Dispose();
            _sums[i] = null;
        }
    }

    // The accumulator's pages become resident when first written, not when allocated: the model before
    // last (and anything else a round leaves) must be gone from memory by then. Nothing else prompts a
    // collection (the accumulator is native, and the next large managed allocation comes only when the
    // round completes). At the accumulator's allocation the last round may still hold that model (its
    // state machine can still be unwinding on another thread); at the first fold a node has trained
    // and sent its result since.
    private void BeforeFirstWrite()
    {
        if (_written) return;
        _written = true;
        ModelMemory.ReclaimBefore(_template.ByteCount);
    }

    /// <summary>One tensor's int64 accumulator as native segments of <see cref="SegmentValues"/>, zeroed by the system.</summary>
    private sealed unsafe class Segments : IDisposable
    {
        private readonly long*[] _segments;
        private readonly int _length;

        public Segments(int length)
        {
            _length = length;
            _segments = new long*[(length + SegmentValues - 1) / SegmentValues];
            for (int s = 0; s < _segments.Length; s++)
                _segments[s] = (long*)NativeMemory.AllocZeroed((nuint)Math.Min(SegmentValues, length - s * SegmentValues), sizeof(long));
        }

        // Blocks never straddle segments: a segment holds a whole number of blocks.
        public Span<long> Slice(int start, int length)
        {
            long* segment = _segments[start / SegmentValues];
            if (segment == null) throw new ObjectDisposedException(nameof(ReproducibleSum));
            return new Span<long>(segment + start % SegmentValues, length);
        }

        // Frees every segment that ends at or before `end`.
        public void FreeThrough(int end)
        {
            for (int s = 0; s < _segments.Length && Math.Min((long)(s + 1) * SegmentValues, _length) <= end; s++)
            {
                if (_segments[s] == null) continue;
                NativeMemory.Free(_segments[s]);
                _segments[s] = null;
            }
        }

        public void Dispose()
        {
            FreeThrough(_length);
            GC.SuppressFinalize(this);
        }

        ~Segments() => FreeThrough(_length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a round calls these a few hundred times: too few to wait for tiering
    private void AddBlock<T>(int tensor, int block, Span<long> acc, ReadOnlySpan<T> x, double weight, string name)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double largest = double.CreateChecked(TensorPrimitives.MaxMagnitude(x)) * Math.Abs(weight);
        if (largest == 0) return;
        if (!double.IsFinite(largest)) throw new AggregationException($"tensor '{name}' holds a value that is not finite (or its weight {weight} overflows)");
        int exponent = Math.ILogB(largest) + 1; // |w·x| < 2^exponent
        int own = exponent - (typeof(T) == typeof(float) ? PrecisionBits : DoublePrecisionBits);
        ref int quantum = ref _quanta[tensor]![block];
        ref double bound = ref _bounds[tensor]![block];
        double nextBound = bound + Math.ScaleB(1.0, exponent);
        int target = Math.Min(quantum, own);
        if (Math.ScaleB(nextBound, -target) > Math.ScaleB(1.0, LimitBits))
        {
            // Out of exact range: the coarsest quantum that fits; earlier terms are rounded again.
            target = Math.ILogB(nextBound) + 1 - LimitBits;
            Exact = false;
        }
        if (quantum == int.MaxValue) quantum = target;
        else if (target < quantum) ShiftLeft(acc, quantum - target);
        else if (target > quantum) ShiftRightRounding(acc, target - quantum);
        quantum = target;
        bound = nextBound;
        int rounding = Math.Max(own, target);
        Fold(acc, x, weight * Math.ScaleB(1.0, -rounding), rounding - target);
    }

    // acc += round(x·scale) · 2^shift, the product in float64: the rounding is the term's own, the shift exact.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a round calls these a few hundred times: too few to wait for tiering
    private static void Fold<T>(Span<long> acc, ReadOnlySpan<T> x, double scale, int shift)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated && typeof(T) == typeof(float))
        {
            // The same operations 16 values at a time; TensorPrimitives uses this width too where it is fast.
            var s = Vector512.Create(scale);
            var magic = Vector512.Create(RoundingMagic);
            var magicBits = Vector512.Create(RoundingMagicBits);
            var accVectors = MemoryMarshal.Cast<long, Vector512<long>>(acc);
            var xs = MemoryMarshal.Cast<T, float>(x);
            for (; i + 16 <= xs.Length; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Create(xs.Slice(i, 16)));
                accVectors[i / 8] += Vector512.ShiftLeft(Vector512.AsInt64(lo * s + magic) - magicBits, shift);
                accVectors[i / 8 + 1] += Vector512.ShiftLeft(Vector512.AsInt64(hi * s + magic) - magicBits, shift);
            }
        }
        else if (Vector.IsHardwareAccelerated && Vector<double>.Count > 1)
        {
            var s = new Vector<double>(scale);
            var magic = new Vector<double>(RoundingMagic);
            var magicBits = new Vector<long>(RoundingMagicBits);
            var accVectors = MemoryMarshal.Cast<long, Vector<long>>(acc);
            if (typeof(T) == typeof(float))
            {
                var xs = MemoryMarshal.Cast<T, float>(x);
                int step = Vector<float>.Count;
                for (; i + step <= xs.Length; i += step)
                {
                    Vector.Widen(new Vector<float>(xs.Slice(i, step)), out var lo, out var hi);
                    int v = i / Vector<long>.Count;
                    accVectors[v] += Vector.ShiftLeft(Vector.AsVectorInt64(lo * s + magic) - magicBits, shift);
                    accVectors[v + 1] += Vector.ShiftLeft(Vector.AsVectorInt64(hi * s + magic) - magicBits, shift);
                }
            }
            else
            {
                var xs = MemoryMarshal.Cast<T, double>(x);
                int step = Vector<double>.Count;
                for (; i + step <= xs.Length; i += step)
                    accVectors[i / step] += Vector.ShiftLeft(Vector.AsVectorInt64(new Vector<double>(xs.Slice(i, step)) * s + magic) - magicBits, shift);
            }
        }
        for (; i < x.Length; i++)
        {
            double v = double.CreateChecked(x[i]) * scale + RoundingMagic;
            acc[i] += (BitConverter.DoubleToInt64Bits(v) - RoundingMagicBits) << shift;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a round calls these a few hundred times: too few to wait for tiering
    private static void ShiftLeft(Span<long> acc, int shift)
    {
        for (int i = 0; i < acc.Length; i++) acc[i] <<= shift;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a round calls these a few hundred times: too few to wait for tiering
    private static void ShiftRightRounding(Span<long> acc, int shift)
    {
        if (shift >= 63)
        {
            acc.Clear();
            return;
        }
        long half = 1L << (shift - 1);
        for (int i = 0; i < acc.Length; i++) acc[i] = (acc[i] + half) >> shift;
    }

    // value = (hi·2^32 + lo)·factor: both halves are exact in a double (read through the rounding
    // constant, which needs no int64 conversion instruction), so the vector and scalar paths round the same.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a round calls these a few hundred times: too few to wait for tiering
    private static void Convert<T>(ReadOnlySpan<long> acc, double factor, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<double>.Count > 1)
        {
            var f = new Vector<double>(factor);
            var magic = new Vector<double>(RoundingMagic);
            var magicBits = new Vector<long>(RoundingMagicBits);
            var low = new Vector<long>(0xFFFFFFFF);
            var twoTo32 = new Vector<double>(4294967296.0);
            int step = Vector<long>.Count;
            var accVectors = MemoryMarshal.Cast<long, Vector<long>>(acc);
            if (typeof(T) == typeof(float))
            {
                var output = MemoryMarshal.Cast<T, float>(destination);
                for (; i + 2 * step <= acc.Length; i += 2 * step)
                {
                    var a = Value(accVectors[i / step], f, magic, magicBits, low, twoTo32);
                    var b = Value(accVectors[i / step + 1], f, magic, magicBits, low, twoTo32);
                    Vector.Narrow(a, b).CopyTo(output.Slice(i, 2 * step));
                }
            }
            else
            {
                var output = MemoryMarshal.Cast<T, double>(destination);
                for (; i + step <= acc.Length; i += step)
                    Value(accVectors[i / step], f, magic, magicBits, low, twoTo32).CopyTo(output.Slice(i, step));
            }
        }
        for (; i < acc.Length; i++)
        {
            long a = acc[i];
            double value = ((double)(a >> 32) * 4294967296.0 + (double)(a & 0xFFFFFFFF)) * factor;
            destination[i] = T.CreateChecked(value);
        }
    }

    private static Vector<double> Value(Vector<long> a, Vector<double> factor, Vector<double> magic, Vector<long> magicBits, Vector<long> low, Vector<double> twoTo32)
    {
        var hi = Vector.AsVectorDouble(Vector.ShiftRightArithmetic(a, 32) + magicBits) - magic;
        var lo = Vector.AsVectorDouble((a & low) + magicBits) - magic;
        return (hi * twoTo32 + lo) * factor;
    }
}
