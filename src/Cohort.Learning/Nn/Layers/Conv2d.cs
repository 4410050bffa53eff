using System.Numerics.Tensors;
using Cohort.Learning.Nn.Kernels;

namespace Cohort.Learning.Nn.Layers;

/// <summary>
/// 2-D convolution over NCHW images with any kernel size, stride and zero padding; PyTorch's layout
/// "NAME.weight" [out, in, kh, kw] and "NAME.bias" [out]. Runs as im2col + GEMM over chunks of the
/// batch (so the column buffer stays bounded) with the unfolding spread over the worker threads.
/// </summary>
public sealed unsafe class Conv2d : Layer, IParallelWork
{
    // Column-buffer budget in floats (1.25 MiB, about a core's L2): the batch is unfolded a few
    // examples at a time so the column matrix is still in cache when the GEMMs read it; one 8 MiB
    // chunk measured 7–10% slower per training step (FedAvg CNN, batch 10–100).
    private const int ColumnBudget = 5 << 16;

    private ConvGeometry _geometry;
    private int _chunk;
    private float[] _col = [];
    private float[] _out = [];
    private float[] _dcol = [];
    private float[] _padded = [];
    private int _colChunkStart = -1, _colChunkExamples;

    // Per-call state of the parallel unfold or fold (the layer itself is the work item: nothing is allocated per step).
    private bool _parallelFold;
    private float* _parallelImage;
    private int _parallelExamples, _parallelTasks;

    /// <summary>Creates a convolution; <paramref name="padding"/> is added on every side.</summary>
    public Conv2d(string name, int inChannels, int outChannels, int kernel, int stride = 1, int padding = 0)
        : this(name, inChannels, outChannels, kernel, kernel, stride, padding)
    {
    }

    /// <summary>Creates a convolution with a kernelH × kernelW kernel.</summary>
    public Conv2d(string name, int inChannels, int outChannels, int kernelH, int kernelW, int stride, int padding) : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(outChannels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelH, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(kernelW, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(stride, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(padding);
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelH = kernelH;
        KernelW = kernelW;
        Stride = stride;
        Padding = padding;
    }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Output channels (filters).</summary>
    public int OutChannels { get; }

    /// <summary>Kernel height.</summary>
    public int KernelH { get; }

    /// <summary>Kernel width.</summary>
    public int KernelW { get; }

    /// <summary>Step between kernel positions.</summary>
    public int Stride { get; }

    /// <summary>Zeros added on each side.</summary>
    public int Padding { get; }

    private int FanIn => InChannels * KernelH * KernelW;

    /// <inheritdoc />
    public override string Describe() => $"Conv2d({InChannels}→{OutChannels}, {KernelH}×{KernelW}, stride {Stride}, padding {Padding})";

    /// <inheritdoc />
    public override IReadOnlyList<(string Name, int[] Shape)> ParameterShapes =>
        [($"{Name}.weight", [OutChannels, InChannels, KernelH, KernelW]), ($"{Name}.bias", [OutChannels])];

    /// <inheritdoc />
    protected override int[] ComputeOutputShape(int[] inputShape)
    {
        if (inputShape.Length != 3 || inputShape[0] != InChannels)
            throw ShapeError(inputShape, $"[{InChannels}, height, width]");
        int h = inputShape[1], w = inputShape[2];
        int oh = (h + 2 * Padding - KernelH) / Stride + 1, ow = (w + 2 * Padding - KernelW) / Stride + 1;
        if (h + 2 * Padding < KernelH || w + 2 * Padding < KernelW || oh < 1 || ow < 1)
            throw ShapeError(inputShape, $"an image of at least {KernelH}×{KernelW} after padding {Padding}");
        _geometry = new ConvGeometry(InChannels, h, w, KernelH, KernelW, Stride, Padding, oh, ow);
        _chunk = Math.Max(1, ColumnBudget / (_geometry.Rows * _geometry.OutPlane));
        return [OutChannels, oh, ow];
    }

    internal override void Initialize(Random random, WeightInit scheme)
    {
        var w = Weights;
        int count = OutChannels * FanIn;
        WeightInitializer.Fill(w[..count], w[count..], FanIn, OutChannels * KernelH * KernelW, scheme, random);
    }

    internal override void Reserve(int batch)
    {
        int chunk = Math.Min(batch, _chunk);
        long cols = (long)chunk * _geometry.OutPlane;
        Ensure(ref _col, _geometry.Rows * cols);
        // Slack: the padded fold reads a vector that may run 8 floats past the last row.
        Ensure(ref _dcol, _geometry.Rows * cols + 8);
        if (Stride == 1) Ensure(ref _padded, _geometry.PaddedSize(chunk));
        Ensure(ref _out, OutChannels * cols);
    }

    internal override void Forward(ReadOnlySpan<float> x, Span<float> y, int batch, bool training)
    {
        Reserve(batch);
        var g = _geometry;
        int plane = g.OutPlane, rows = g.Rows;
        var w = Weights;
        var bias = w[(OutChannels * rows)..];
        _colChunkStart = -1;
        for (int b0 = 0; b0 < batch; b0 += _chunk)
        {
            int nb = Math.Min(_chunk, batch - b0);
            int cols = nb * plane;
            Unfold(x, b0, nb);
            var outp = _out.AsSpan(0, OutChannels * cols);
            Gemm.Multiply(false, false, OutChannels, cols, rows, w, rows, _col, cols, outp, cols, accumulate: false, Threads);
            // [out, example, position] → [example, out, position], adding the bias on the way.
            for (int b = 0; b < nb; b++)
                for (int o = 0; o < OutChannels; o++)
                    TensorPrimitives.Add(outp.Slice(o * cols + b * plane, plane), bias[o], y.Slice(((b0 + b) * OutChannels + o) * plane, plane));
            _colChunkStart = b0;
            _colChunkExamples = nb;
        }
    }

    internal override void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int batch)
    {
        Reserve(batch);
        var g = _geometry;
        int plane = g.OutPlane, rows = g.Rows, weightCount = OutChannels * rows;
        var grads = Gradients;
        var gw = grads[..weightCount];
        var gb = grads[weightCount..];
        gb.Clear();
        if (!dx.IsEmpty) dx[..(batch * InputSize)].Clear();
        for (int b0 = 0; b0 < batch; b0 += _chunk)
        {
            int nb = Math.Min(_chunk, batch - b0);
            int cols = nb * plane;
            // The forward pass's last chunk is still unfolded; every other chunk is unfolded again.
            if (b0 != _colChunkStart || nb != _colChunkExamples) Unfold(x, b0, nb);
            var dyp = _out.AsSpan(0, OutChannels * cols);
            for (int b = 0; b < nb; b++)
                for (int o = 0; o < OutChannels; o++)
                {
                    var src = dy.Slice(((b0 + b) * OutChannels + o) * plane, plane);
                    src.CopyTo(dyp.Slice(o * cols + b * plane, plane));
                }
            for (int o = 0; o < OutChannels; o++) gb[o] += TensorPrimitives.Sum(dyp.Slice(o * cols, cols));
            // dW (+)= dY·colᵀ; dcol = Wᵀ·dY, folded back onto dx.
            Gemm.Multiply(false, true, OutChannels, rows, cols, dyp, cols, _col, cols, gw, rows, accumulate: b0 > 0, Threads);
            if (!dx.IsEmpty)
            {
                var dcol = _dcol.AsSpan(0, rows * cols);
                Gemm.Multiply(true, false, rows, cols, OutChannels, Weights, rows, dyp, cols, dcol, cols, accumulate: false, Threads);
                Fold(dx, b0, nb);
            }
        }
        _colChunkStart = -1;
    }

    private void Unfold(ReadOnlySpan<float> x, int b0, int nb)
    {
        var g = _geometry;
        var chunk = x.Slice(b0 * g.InSize, nb * g.InSize);
        long work = (long)g.Rows * nb * g.OutPlane;
        int tasks = Threads > 1 && work >= 1 << 16 ? Math.Min(Threads * 4, g.Rows) : 1;
        if (Stride == 1)
        {
            // A zero-padded copy first (a few percent of the column matrix's size) turns every
            // unfolded row into plain copies with no edge tests.
            fixed (float* p = chunk, padded = _padded)
                g.Pad(p, padded, 0, nb * g.Channels);
            if (tasks == 1)
            {
                fixed (float* padded = _padded, col = _col)
                    g.UnfoldPadded(padded, nb, col, 0, g.Rows);
                return;
            }
        }
        if (tasks == 1)
        {
            g.Unfold(chunk, nb, _col, 0, g.Rows);
            return;
        }
        // Parallel bodies cannot capture spans: hand them the pinned chunk (Parallel.For returns only when all are done).
        fixed (float* p = chunk)
        {
            _parallelImage = p;
            _parallelExamples = nb;
            _parallelTasks = tasks;
            _parallelFold = false;
            WorkerPool.Shared.Run(this, tasks, Threads);
            _parallelImage = null;
        }
    }

    private void Fold(Span<float> dx, int b0, int nb)
    {
        var g = _geometry;
        int cols = nb * g.OutPlane;
        long work = (long)g.Rows * cols;
        int tasks = Threads > 1 && work >= 1 << 16 ? Math.Min(Threads * 4, g.Channels) : 1;
        if (tasks == 1 && Stride == 1)
        {
            fixed (float* p = dx.Slice(b0 * g.InSize, nb * g.InSize))
                FoldPadded(p, nb, 0, g.Channels);
            return;
        }
        if (tasks == 1)
        {
            g.Fold(_dcol.AsSpan(0, g.Rows * cols), nb, dx.Slice(b0 * g.InSize, nb * g.InSize), 0, g.Channels);
            return;
        }
        fixed (float* p = dx.Slice(b0 * g.InSize, nb * g.InSize))
        {
            _parallelImage = p;
            _parallelExamples = nb;
            _parallelTasks = tasks;
            _parallelFold = true;
            WorkerPool.Shared.Run(this, tasks, Threads);
            _parallelImage = null;
        }
    }

    void IParallelWork.Execute(int chunk)
    {
        if (_parallelFold) FoldTask(chunk);
        else UnfoldTask(chunk);
    }

    // Channels [first, last) of examples' input gradients: clear their padded planes, add every tap's
    // column rows onto them, and copy the interiors out.
    private void FoldPadded(float* dx, int examples, int first, int last)
    {
        var g = _geometry;
        fixed (float* padded = _padded, dcol = _dcol)
        {
            for (int b = 0; b < examples; b++)
                new Span<float>(padded + (long)(b * g.Channels + first) * g.PaddedPlane, (last - first) * g.PaddedPlane).Clear();
            g.FoldPadded(dcol, examples, padded, first, last);
            for (int b = 0; b < examples; b++)
                g.Crop(padded, dx, b * g.Channels + first, b * g.Channels + last);
        }
    }

    private void UnfoldTask(int task)
    {
        var g = _geometry;
        int first = g.Rows * task / _parallelTasks, last = g.Rows * (task + 1) / _parallelTasks;
        if (Stride == 1)
        {
            fixed (float* padded = _padded, col = _col)
                g.UnfoldPadded(padded, _parallelExamples, col, first, last);
            return;
        }
        g.Unfold(new ReadOnlySpan<float>(_parallelImage, _parallelExamples * g.InSize), _parallelExamples, _col, first, last);
    }

    private void FoldTask(int task)
    {
        var g = _geometry;
        int first = g.Channels * task / _parallelTasks, last = g.Channels * (task + 1) / _parallelTasks;
        if (Stride == 1)
        {
            FoldPadded(_parallelImage, _parallelExamples, first, last);
            return;
        }
        int cols = _parallelExamples * g.OutPlane;
        g.Fold(_dcol.AsSpan(0, g.Rows * cols), _parallelExamples, new Span<float>(_parallelImage, _parallelExamples * g.InSize), first, last);
    }
}
