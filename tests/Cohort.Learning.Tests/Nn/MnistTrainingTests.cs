using Cohort.Learning.Data.Mnist;
using Cohort.Learning.Nn;
using Cohort.Learning.Optimizers;
using Cohort.Learning.Training;

namespace Cohort.Learning.Tests.Nn;

public sealed class MnistTrainingTests
{
    [Fact]
    public void TwoNN_trained_one_epoch_on_2000_examples_passes_80_percent_test_accuracy_within_seconds()
    {
        var data = MnistFiles.Data;
        var network = FedAvgNetworks.TwoNN();
        network.Initialize(seed: 1);
        var before = ImageClassifierTrainer.Evaluate(network, data.Test, [], PixelScaling.UnitInterval);
        int[] train = Enumerable.Range(0, 2000).ToArray();

        var result = ImageClassifierTrainer.Train(network, new Sgd(network.ParameterCount, learningRate: 0.1), data.Train, train,
            PixelScaling.UnitInterval, new TrainingOptions { Epochs = 1, BatchSize = 10, Seed = 7 });
        var after = ImageClassifierTrainer.Evaluate(network, data.Test, [], PixelScaling.UnitInterval);

        Assert.Equal(200, result.Steps);
        Assert.True(before.Accuracy < 0.3, $"untrained accuracy {before.Accuracy}");
        Assert.True(after.Accuracy > 0.8, $"test accuracy after one epoch {after.Accuracy}");
        Assert.True(after.Loss < before.Loss, $"test loss {before.Loss} → {after.Loss}");
    }
}
