using System.Numerics.Tensors;
using Cohort.Learning.Data;
using Cohort.Learning.Models;
using Cohort.Learning.Optimizers;

namespace Cohort.Learning.Training;

/// <summary>
/// Mini-batch training of a model on a node's data: each pass visits the rows in a fresh seeded
/// order, as a shuffling PyTorch DataLoader does; a step budget simply runs through as many passes
/// as it needs. Works with single-class data (the gradient then pushes every logit the same way).
/// </summary>
internal static class LocalTrainer
{
    /// <summary>
    /// Trains <paramref name="model"/> in place. When <see cref="TrainingOptions.ProximalMu"/> is
    /// positive, <paramref name="anchor"/> holds the global weights the proximal term pulls towards.
    /// </summary>
    public static TrainingResult Train(IModel model, IOptimizer optimizer, TabularDataset data, TrainingOptions options, ReadOnlySpan<float> anchor, CancellationToken ct = default) =>
        Train(model, optimizer, data, options, anchor, [], ct);

    /// <summary>
    /// Trains as above; a non-empty <paramref name="correction"/> is added to every mini-batch gradient
    /// (SCAFFOLD's c − cᵢ, which steers local steps towards the global descent direction).
    /// </summary>
    public static TrainingResult Train(IModel model, IOptimizer optimizer, TabularDataset data, TrainingOptions options, ReadOnlySpan<float> anchor, ReadOnlySpan<float> correction, CancellationToken ct = default)
    {
        if (correction.Length != 0 && correction.Length != model.Weights.Length)
            throw new ArgumentException($"gradient correction needs {model.Weights.Length} values, got {correction.Length}");
        if (data.Count == 0) throw new ArgumentException("no training rows");
        if (data.FeatureCount != model.InputSize)
            throw new ArgumentException($"{model.Description} expects {model.InputSize} features, the data has {data.FeatureCount}");
        if (options.BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(options), options.BatchSize, "batch size must be at least 1");
        bool proximal = options.ProximalMu > 0;
        if (proximal && anchor.Length != model.Weights.Length)
            throw new ArgumentException($"proximal term needs {model.Weights.Length} anchor weights, got {anchor.Length}");

        int n = data.Count;
        int d = data.FeatureCount;
        int batch = Math.Min(options.BatchSize, n);
        int steps = options.Steps ?? checked(options.Epochs * ((n + batch - 1) / batch));
        if (steps < 0) throw new ArgumentOutOfRangeException(nameof(options), steps, "steps must not be negative");

        var x = new float[batch * d];
        var y = new float[batch];
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var drift = proximal ? new float[model.Weights.Length] : [];
        var rng = new Random(options.Seed);
        float mu = (float)options.ProximalMu;

        double lossSum = 0;
        int position = n; // forces a shuffle before the first batch
        for (int step = 0; step < steps; step++)
        {
            if ((step & 15) == 0) ct.ThrowIfCancellationRequested();
            if (position >= n)
            {
                rng.Shuffle(order);
                position = 0;
            }
            int rows = Math.Min(batch, n - position);
            for (int r = 0; r < rows; r++)
            {
                int row = order[position + r];
                data.Row(row).CopyTo(x.AsSpan(r * d, d));
                y[r] = data.Labels[row];
            }
            position += rows;

            lossSum += model.ComputeGradients(x.AsSpan(0, rows * d), y.AsSpan(0, rows), options.Loss);
            if (proximal)
            {
                // ∇ μ/2·‖w − w₀‖² = μ(w − w₀)
                TensorPrimitives.Subtract(model.Weights, anchor, drift);
                TensorPrimitives.MultiplyAdd(drift, mu, model.Gradients, model.Gradients);
            }
            if (correction.Length != 0) TensorPrimitives.Add(model.Gradients, correction, model.Gradients);
            optimizer.Step(model.Weights, model.Gradients);
        }
        return new TrainingResult(steps, steps > 0 ? lossSum / steps : double.NaN);
    }
}
