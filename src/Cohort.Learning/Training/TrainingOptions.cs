namespace Cohort.Learning.Training;

/// <summary>How long and on what batches <see cref="LocalTrainer"/> trains.</summary>
internal sealed record TrainingOptions
{
    /// <summary>Mini-batch steps; when null, <see cref="Epochs"/> passes over the data are made instead.</summary>
    public int? Steps { get; init; }

    /// <summary>Passes over the data when <see cref="Steps"/> is null.</summary>
    public int Epochs { get; init; } = 1;

    /// <summary>Rows per mini-batch; the last batch of a pass may be smaller.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Seed of the batch order.</summary>
    public int Seed { get; init; }

    /// <summary>FedProx's μ: adds μ/2·‖w − w_global‖² to the loss; 0 disables it.</summary>
    public double ProximalMu { get; init; }

    /// <summary>The loss the binary models of <see cref="LocalTrainer"/> minimise (class weights, focal term); plain cross-entropy by default.</summary>
    public Models.BinaryLoss Loss { get; init; } = Models.BinaryLoss.CrossEntropy;
}

/// <summary>What a local training run did.</summary>
/// <param name="Steps">Optimiser steps taken.</param>
/// <param name="MeanBatchLoss">Mean cross-entropy over the batches (without the proximal term).</param>
internal sealed record TrainingResult(int Steps, double MeanBatchLoss);
