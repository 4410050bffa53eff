using Cohort.Apps.Mnist;
using Cohort.Learning.Data.Idx;
using Cohort.Learning.Data.Mnist;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps.Tests.Mnist;

public sealed class MnistAppTests
{
    private static string DataFolder => Path.Combine(HeartDiseasePlan.Root, "examples", "mnist", "data");

    private static Config Settings(params (string Key, Scalar Value)[] entries) =>
        new(entries.Select(e => KeyValuePair.Create(e.Key, e.Value)));

    private static ClientAppContext Context(Config app, Config node, string name = "agent01") => new("run", name, app, node);

    [Fact]
    public void Mnist_is_a_built_in_app()
    {
        Assert.IsType<MnistAppFactory>(BuiltInApps.Find("mnist"));
    }

    [Fact]
    public void Node_settings_choose_the_folder_digits_and_sizes_and_override_app_settings()
    {
        var app = new MnistAppFactory().CreateMnist(Context(
            Settings(("model", Scalar.Of("cnn")), ("train_examples", Scalar.Of(50L))),
            Settings(("data", Scalar.Of(DataFolder)), ("digits", Scalar.Of("1,2,3")), ("train_examples", Scalar.Of("300")), ("test_examples", Scalar.Of("200")))));

        Assert.Equal("cnn", app.Settings.Model);
        Assert.Equal(300, app.TrainIndices.Length);
        Assert.Equal(200, app.TestIndices.Length);
        foreach (int i in app.TrainIndices) Assert.InRange(app.Data.Train.Labels[i], 1, 3);
        Assert.Same(MnistData.Shared(DataFolder), app.Data);
    }

    [Fact]
    public void A_missing_data_folder_is_named_with_where_to_set_it()
    {
        var e = Assert.Throws<AppConfigurationException>(() => new MnistAppFactory().Create(Context(Config.Empty, Config.Empty)));

        Assert.StartsWith("node setting 'data' is missing", e.Message);
    }

    [Fact]
    public void A_folder_without_MNIST_names_the_missing_file()
    {
        string empty = Directory.CreateTempSubdirectory("cohort-mnist-").FullName;
        try
        {
            var e = Assert.Throws<IdxFormatException>(() => new MnistAppFactory().Create(Context(Config.Empty, Settings(("data", Scalar.Of(empty))))));
            Assert.Contains("train-images-idx3-ubyte", e.Message);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Theory]
    [InlineData("model", "resnet", "app setting 'model' is 'resnet'; allowed: 2nn, cnn")]
    [InlineData("init", "zeros", "app setting 'init' is 'zeros'; allowed: kaiming_uniform, kaiming_normal, glorot_uniform, torch")]
    [InlineData("digits", "1,11", "app setting 'digits' has '11'; digits are 0 to 9")]
    [InlineData("epochs", "3", "app setting 'epochs' is not known; known: ")]
    public void Wrong_app_settings_are_refused_naming_the_key_and_the_allowed_values(string key, string value, string message)
    {
        var e = Assert.Throws<AppConfigurationException>(() => MnistSettings.FromConfig(Settings((key, Scalar.Of(value)))));

        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public async Task A_client_over_an_index_partition_trains_on_exactly_those_examples_and_improves_test_accuracy()
    {
        var data = MnistData.Shared(DataFolder);
        int[] partition = Enumerable.Range(0, 1000).Select(i => i * 7).ToArray();
        var app = new MnistApp(data, partition, MnistSettings.Default with { Threads = 2 }, "client-3", Enumerable.Range(0, 2000).ToArray());
        var config = Settings(("seed", Scalar.Of(1L)), ("round", Scalar.Of(1L)), ("local_epochs", Scalar.Of(1L)), ("batch_size", Scalar.Of(10L)), ("learning_rate", Scalar.Of(0.1)));
        var initial = await app.GetParametersAsync(config, default);
        var before = await app.EvaluateAsync(initial, config, default);

        var fit = await app.FitAsync(initial, config, default);
        var after = await app.EvaluateAsync(fit.Parameters, config, default);

        Assert.True(app.TrainIndices == partition.AsSpan(), "the partition is kept, not copied");
        Assert.Equal(1000, fit.Examples);
        Assert.Equal(100, fit.Metrics["steps"].AsInt());
        Assert.Equal(2000, after.Examples);
        Assert.True(after.Metrics["accuracy"].AsDouble() > 0.75, $"accuracy {after.Metrics["accuracy"]}");
        Assert.True(after.Loss < before.Loss);
    }

    [Fact]
    public async Task Fits_are_deterministic_for_a_seed_and_round_and_differ_between_rounds()
    {
        var data = MnistData.Shared(DataFolder);
        var app = new MnistApp(data, Enumerable.Range(0, 200).ToArray(), MnistSettings.Default with { Threads = 2 }, "client-1");
        Config Round(long r) => Settings(("seed", Scalar.Of(5L)), ("round", Scalar.Of(r)), ("optimizer", Scalar.Of("adam")), ("learning_rate", Scalar.Of(0.001)));
        var initial = await app.GetParametersAsync(Round(1), default);

        var a = await app.FitAsync(initial, Round(1), default);
        var b = await app.FitAsync(initial, Round(1), default);
        var c = await app.FitAsync(initial, Round(2), default);

        Assert.Equal(a.Parameters["fc1.weight"].Data, b.Parameters["fc1.weight"].Data);
        Assert.NotEqual(a.Parameters["fc1.weight"].Data, c.Parameters["fc1.weight"].Data);
    }

    [Fact]
    public async Task A_scaffold_task_is_refused_in_one_sentence_naming_the_app_that_supports_it()
    {
        var app = new MnistApp(MnistData.Shared(DataFolder), Enumerable.Range(0, 20).ToArray(), MnistSettings.Default with { Threads = 1 }, "client-1");
        var model = await app.GetParametersAsync(Config.Empty, default);
        var task = new ParameterSet(model.Concat(ScaffoldTensors.Prefixed(model.Clone(), ScaffoldTensors.ServerControlPrefix)));

        var e = await Assert.ThrowsAsync<NotSupportedException>(() => app.FitAsync(task, Config.Empty, default));

        Assert.Equal("the mnist app does not keep SCAFFOLD's control variates: choose another strategy (fedavg, fedprox, …); the built-in tabular app supports scaffold", e.Message);
    }

    [Fact]
    public void Indices_outside_the_data_set_are_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new MnistApp(MnistData.Shared(DataFolder), [0, 60_000]));

        Assert.Contains("training index outside 0..59999", e.Message);
    }
}
