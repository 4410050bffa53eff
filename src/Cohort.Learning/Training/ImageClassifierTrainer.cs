using System.Numerics.Tensors;
using Cohort.Learning.Data.Mnist;
using Cohort.Learning.Nn;
using Cohort.Learning.Nn.Losses;
using Cohort.Learning.Optimizers;

namespace Cohort.Learning.Training;

/// <summary>
/// Mini-batch training and evaluation of a <see cref="Sequential"/> classifier with softmax
/// cross-entropy on a subset of a shared image set. The subset is a list of indices (a partition is
/// never copied); each pass visits it in a fresh seeded order, and a step budget runs through as
/// many passes as it needs.
/// </summary>
internal static class ImageClassifierTrainer
{
    /// <summary>
    /// Trains <paramref name="network"/> in place on <paramref name="indices"/> of <paramref name="data"/>.
    /// When <see cref="TrainingOptions.ProximalMu"/> is positive, <paramref name="anchor"/> holds the
    /// weights the FedProx term pulls towards.
    /// </summary>
    public static ClassifierTrainingResult Train(Sequential network, IOptimizer optimizer, LabeledImages data, ReadOnlySpan<int> indices,
        PixelScaling scaling, TrainingOptions options, ReadOnlySpan<float> anchor = default, CancellationToken ct = default)
    {
        if (indices.IsEmpty) throw new ArgumentException("no training examples");
        if (data.PixelsPerImage != network.InputSize)
            throw new ArgumentException($"network '{network.Name}' takes {network.InputSize} values per example, the images have {data.PixelsPerImage}");
        if (network.OutputSize != data.Classes)
            throw new ArgumentException($"network '{network.Name}' has {network.OutputSize} outputs for {data.Classes} classes");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "batch size must be at least 1");
        bool proximal = options.ProximalMu > 0;
        if (proximal && anchor.Length != network.ParameterCount)
            throw new ArgumentException($"proximal term needs {network.ParameterCount} anchor weights, got {anchor.Length}");

        int n = indices.Length, size = network.InputSize, classes = data.Classes;
        int batch = Math.Min(options.BatchSize, n);
        int steps = options.Steps ?? checked(options.Epochs * ((n + batch - 1) / batch));
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(options), steps, "steps must not be negative");

        network.Reserve(batch);
        network.Reseed(options.Seed);
        var x = new float[batch * size];
        var labels = new int[batch];
        var order = indices.ToArray();
        var drift = proximal ? new float[network.ParameterCount] : [];
        var random = new Random(options.Seed);
        float mu = (float)options.ProximalMu;

        double lossSum = 0;
        long correct = 0, seen = 0;
        int position = n; // forces a shuffle before the first batch
        for (int step = 0; step < steps; step++)
        {
            if ((step & 15) == 0) ct.ThrowIfCancellationRequested();
            if (position >= n)
            {
                random.Shuffle(order);
                position = 0;
            }
            int rows = Math.Min(batch, n - position);
            data.CopyBatch(order.AsSpan(position, rows), scaling, x, labels);
            position += rows;

            var logits = network.Forward(x.AsSpan(0, rows * size), rows, training: true);
            var dlogits = network.OutputGradientBuffer(rows);
            lossSum += SoftmaxCrossEntropy.Compute(logits, classes, labels.AsSpan(0, rows), dlogits, out int right);
            correct += right;
            seen += rows;
            network.Backward(dlogits, rows);
            if (proximal)
            {
                // ∇ μ/2·‖w − w₀‖² = μ(w − w₀)
                TensorPrimitives.Subtract(network.Weights, anchor, drift);
                TensorPrimitives.MultiplyAdd(drift, mu, network.Gradients, network.Gradients);
            }
            optimizer.Step(network.Weights, network.Gradients);
        }
        return new ClassifierTrainingResult(steps, seen, steps > 0 ? lossSum / steps : double.NaN, seen > 0 ? (double)correct / seen : double.NaN);
    }

    /// <summary>Mean cross-entropy and accuracy of <paramref name="network"/> on <paramref name="indices"/> (all images when empty).</summary>
    public static ClassifierEvaluation Evaluate(Sequential network, LabeledImages data, ReadOnlySpan<int> indices, PixelScaling scaling, int batchSize = 500)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        int n = indices.IsEmpty ? data.Count : indices.Length;
        if (n == 0) return new ClassifierEvaluation(0, double.NaN, double.NaN);
        int batch = Math.Min(batchSize, n), size = network.InputSize;
        var x = new float[batch * size];
        var labels = new int[batch];
        var all = indices.IsEmpty ? new int[batch] : [];
        double loss = 0;
        long correct = 0;
        for (int start = 0; start < n; start += batch)
        {
            int rows = Math.Min(batch, n - start);
            ReadOnlySpan<int> chunk;
            if (indices.IsEmpty)
            {
                for (int i = 0; i < rows; i++) all[i] = start + i;
                chunk = all.AsSpan(0, rows);
            }
            else
            {
                chunk = indices.Slice(start, rows);
            }
            data.CopyBatch(chunk, scaling, x, labels);
            var logits = network.Forward(x.AsSpan(0, rows * size), rows);
            loss += SoftmaxCrossEntropy.Compute(logits, data.Classes, labels.AsSpan(0, rows), Span<float>.Empty, out int right) * (double)rows;
            correct += right;
        }
        return new ClassifierEvaluation(n, loss / n, (double)correct / n);
    }
}

/// <summary>What a classifier training run did.</summary>
/// <param name="Steps">Optimiser steps taken.</param>
/// <param name="Examples">Examples processed (steps × batch, the last batches of passes may be smaller).</param>
/// <param name="MeanBatchLoss">Mean cross-entropy over the batches (without the proximal term), measured before each step.</param>
/// <param name="RunningAccuracy">Fraction of training examples classified right, measured before each step.</param>
internal sealed record ClassifierTrainingResult(int Steps, long Examples, double MeanBatchLoss, double RunningAccuracy);

/// <summary>A classifier's mean cross-entropy and accuracy on a set of examples.</summary>
/// <param name="Examples">Examples evaluated.</param>
/// <param name="Loss">Mean cross-entropy.</param>
/// <param name="Accuracy">Fraction classified right.</param>
internal sealed record ClassifierEvaluation(long Examples, double Loss, double Accuracy);
