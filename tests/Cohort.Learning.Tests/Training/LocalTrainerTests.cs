using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Models;
using Cohort.Learning.Optimizers;
using Cohort.Learning.Training;

namespace Cohort.Learning.Tests.Training;

public sealed class LocalTrainerTests
{
    private static TabularDataset Dataset(float[,] x, float[] y)
    {
        int n = x.GetLength(0), d = x.GetLength(1);
        var flat = new float[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) flat[i * d + j] = x[i, j];
        return new TabularDataset(flat, y, Enumerable.Range(0, d).Select(j => $"x{j}").ToArray());
    }

    private static readonly TabularDataset Separable = Dataset(new float[,] { { -2, 1 }, { -1, 0 }, { -1.5f, 2 }, { 1, 0 }, { 2, 1 }, { 1.5f, -1 } }, [0, 0, 0, 1, 1, 1]);

    [Fact]
    public void Logistic_regression_learns_a_separable_problem()
    {
        var model = new LogisticRegression(2);
        LocalTrainer.Train(model, new Sgd(3, 0.5), Separable, new TrainingOptions { Steps = 200, BatchSize = 2, Seed = 1 }, []);

        Assert.Equal(1.0, BinaryEvaluation.Of(model, Separable).Accuracy);
    }

    [Fact]
    public void Mlp_learns_xor_which_no_linear_model_can()
    {
        var xor = Dataset(new float[,] { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }, [0, 1, 1, 0]);
        var model = new Mlp(2, [8]);
        model.Initialize(5);

        LocalTrainer.Train(model, new Adam(model.Weights.Length, 0.05), xor, new TrainingOptions { Steps = 500, BatchSize = 4, Seed = 1 }, []);

        Assert.Equal(1.0, BinaryEvaluation.Of(model, xor).Accuracy);
    }

    [Fact]
    public void Single_class_data_trains_and_predicts_that_class()
    {
        var allPositive = Dataset(new float[,] { { 1, 0 }, { 0, 1 }, { -1, 0 } }, [1, 1, 1]);
        var model = new LogisticRegression(2);

        var result = LocalTrainer.Train(model, new Sgd(3, 0.1), allPositive, new TrainingOptions { Steps = 50, BatchSize = 2, Seed = 1 }, []);

        Assert.True(double.IsFinite(result.MeanBatchLoss));
        var e = BinaryEvaluation.Of(model, allPositive);
        Assert.Equal(1.0, e.Accuracy);
        Assert.True(double.IsNaN(e.Auc));
    }

    [Fact]
    public void The_same_seed_gives_the_same_weights()
    {
        float[] Run(int seed)
        {
            var model = new LogisticRegression(2);
            LocalTrainer.Train(model, new Sgd(3, 0.1), Separable, new TrainingOptions { Steps = 7, BatchSize = 4, Seed = seed }, []);
            return model.Weights.ToArray();
        }

        Assert.Equal(Run(3), Run(3));
        Assert.NotEqual(Run(3), Run(4));
    }

    [Fact]
    public void Epochs_take_one_step_per_batch_including_the_last_partial_one()
    {
        var result = LocalTrainer.Train(new LogisticRegression(2), new Sgd(3, 0.1), Separable, new TrainingOptions { Epochs = 2, BatchSize = 4 }, []);

        Assert.Equal(4, result.Steps);
    }

    [Fact]
    public void Proximal_term_keeps_weights_near_the_anchor()
    {
        float[] Train(double mu)
        {
            var model = new LogisticRegression(2);
            LocalTrainer.Train(model, new Sgd(3, 0.1), Separable, new TrainingOptions { Steps = 100, BatchSize = 2, Seed = 1, ProximalMu = mu }, new float[3]);
            return model.Weights.ToArray();
        }

        static double Norm(float[] w) => Math.Sqrt(w.Sum(v => (double)v * v));
        Assert.True(Norm(Train(5)) < 0.5 * Norm(Train(0)));
    }
}
