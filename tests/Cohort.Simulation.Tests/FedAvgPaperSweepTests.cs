using Cohort.Apps.Mnist;
using Cohort.Cli;
using Cohort.Cli.Commands;
using Cohort.Learning.Data.Mnist;

namespace Cohort.Simulation.Tests;

/// <summary>
/// <c>cohort bench fedavg-paper --sweep</c> on a small slice of MNIST (2,000 training images, 400 held out,
/// 20 clients): the validation split shares no image with the clients' training data nor reads the test
/// set, and the sweep picks the best-scoring rate, the same one every time.
/// </summary>
public sealed class FedAvgPaperSweepTests
{
    private static readonly FedAvgPaperBench.Scale Small = new(Clients: 20, TrainImages: 2_000, ValidationImages: 400);

    private static string Folder => RepositoryPaths.Combine("examples", "mnist", "data");

    private static FedAvgPaperBench.Experiment Experiment(string name) => FedAvgPaperBench.Experiments.Single(e => e.Name == name);

    [Theory]
    [InlineData("2nn-iid")]
    [InlineData("2nn-noniid")]
    public void The_validation_split_is_disjoint_from_every_clients_training_images_and_from_the_test_set(string name)
    {
        var (_, setup) = FedAvgPaperBench.Prepare(Experiment(name), 0.1, 1, 1, Folder, FedAvgPaperBench.FirstSeed, Small, validation: true);

        var split = Assert.IsType<MnistSimulationDataset>(setup.Dataset);
        Assert.True(split.IsValidationSplit);
        var validation = split.TestIndices;
        Assert.Equal(Small.ValidationImages, validation.Length);
        Assert.Equal(Small.ValidationImages, validation.Distinct().Count());
        Assert.All(validation, i => Assert.InRange(i, 0, Small.TrainImages - 1));

        var trained = new HashSet<int>();
        for (int c = 0; c < setup.Partitions.Clients; c++)
            foreach (int example in setup.Partitions.Of(c).ToArray())
                trained.Add(split.TrainImageIndices[example]);
        Assert.Equal(Small.TrainImages - Small.ValidationImages, trained.Count);
        Assert.Empty(trained.Intersect(validation));

        // Evaluations read the training images at the held-out indices, never the test images.
        var mnist = MnistData.Shared(Folder);
        Assert.Same(mnist.Train, split.Data.Test);
        Assert.NotSame(mnist.Test, split.Data.Test);
        Assert.Same(mnist.Train, split.Data.Train);
    }

    [Fact]
    public void The_test_runs_evaluate_on_the_test_images_and_share_out_all_training_images()
    {
        var (_, setup) = FedAvgPaperBench.Prepare(Experiment("2nn-iid"), 0.1, 1, 1, Folder, FedAvgPaperBench.FirstSeed, Small, validation: false);

        var data = Assert.IsType<MnistSimulationDataset>(setup.Dataset);
        Assert.False(data.IsValidationSplit);
        Assert.Same(MnistData.Shared(Folder).Test, data.Data.Test);
        Assert.Equal(Small.TrainImages, data.Count);
    }

    [Fact]
    public async Task The_sweep_chooses_the_best_validation_score_and_the_same_rate_when_run_again()
    {
        // 0.0005 barely moves the network in 3 rounds; 50 blows it up (a NaN accuracy must not win nor break the JSON).
        double[] grid = [0.0005, 0.1, 50];
        var first = await FedAvgPaperBench.SweepAsync(Experiment("2nn-iid"), grid, rounds: 3, workers: 1, Folder, Small, TextWriter.Null, CancellationToken.None);
        var again = await FedAvgPaperBench.SweepAsync(Experiment("2nn-iid"), grid, rounds: 3, workers: 1, Folder, Small, TextWriter.Null, CancellationToken.None);

        double[] Scores(System.Text.Json.Nodes.JsonObject sweep) => sweep["grid"]!.AsArray().Select(p => p!["validation_score"]?.GetValue<double>() ?? double.NaN).ToArray();
        var scores = Scores(first);
        double chosen = first["chosen_learning_rate"]!.GetValue<double>();
        Assert.Equal(grid[FedAvgPaperBench.Best(scores)], chosen);
        Assert.Equal(0.1, chosen);
        Assert.True(scores[1] > scores[0] + 0.1, $"validation scores {string.Join(", ", scores)}");
        Assert.Contains("\"chosen_learning_rate\": 0.1", first.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        Assert.Equal(scores, Scores(again));
        Assert.Equal(chosen, again["chosen_learning_rate"]!.GetValue<double>());
    }

    [Fact]
    public void Best_takes_the_highest_score_the_earliest_on_a_tie_and_never_a_nan()
    {
        Assert.Equal(2, FedAvgPaperBench.Best([0.91, 0.95, 0.96, 0.93]));
        Assert.Equal(1, FedAvgPaperBench.Best([0.91, 0.96, 0.96]));
        Assert.Equal(1, FedAvgPaperBench.Best([double.NaN, 0.5, double.NaN]));
        Assert.Throws<ArgumentException>(() => FedAvgPaperBench.Best([]));
    }

    [Theory]
    [InlineData("0.05,abc", "'abc'")]
    [InlineData("0.05,-0.1", "'-0.1'")]
    [InlineData("0.05,0.05", "0.05 is given twice")]
    public void A_bad_grid_is_refused_naming_the_value(string grid, string named)
    {
        var e = Assert.Throws<CliException>(() => FedAvgPaperBench.ParseGrid(grid));
        Assert.Contains("--sweep", e.Message);
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void A_grid_keeps_its_order()
    {
        Assert.Equal([0.03, 0.05, 0.1, 0.2], FedAvgPaperBench.ParseGrid("0.03, 0.05,0.1,0.2"));
    }
}
