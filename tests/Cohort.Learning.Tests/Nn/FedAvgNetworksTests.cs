using Cohort.Learning.Nn;
using Cohort.Learning.Optimizers;
using Cohort.Parameters;

namespace Cohort.Learning.Tests.Nn;

public sealed class FedAvgNetworksTests
{
    [Fact]
    public void TwoNN_has_the_papers_199210_parameters_in_three_named_layers()
    {
        var network = FedAvgNetworks.TwoNN();

        Assert.Equal(199_210, network.ParameterCount);
        Assert.Equal(["fc1.weight float32[200,784]", "fc1.bias float32[200]", "fc2.weight float32[200,200]", "fc2.bias float32[200]",
            "fc3.weight float32[10,200]", "fc3.bias float32[10]"], network.Layout.Slots.Select(s => s.Spec));
        Assert.Equal([10], network.OutputShape);
    }

    [Fact]
    public void Cnn_has_the_papers_1663370_parameters_with_PyTorch_shapes()
    {
        var network = FedAvgNetworks.Cnn();

        Assert.Equal(1_663_370, network.ParameterCount);
        Assert.Equal(["conv1.weight float32[32,1,5,5]", "conv1.bias float32[32]", "conv2.weight float32[64,32,5,5]", "conv2.bias float32[64]",
            "fc1.weight float32[512,3136]", "fc1.bias float32[512]", "fc2.weight float32[10,512]", "fc2.bias float32[10]"],
            network.Layout.Slots.Select(s => s.Spec));
    }

    [Fact]
    public void Parameters_round_trip_through_a_parameter_set_one_tensor_per_parameter()
    {
        var source = FedAvgNetworks.Cnn();
        source.Initialize(3);
        var parameters = source.GetParameters();
        var target = FedAvgNetworks.Cnn();

        target.SetParameters(parameters);

        Assert.Equal(8, parameters.Count);
        Assert.Equal(source.Weights, target.Weights);
        Assert.Equal(source.Weights.AsSpan(0, 800).ToArray(), parameters["conv1.weight"].AsFloat32().ToArray());
    }

    [Fact]
    public void Loading_parameters_of_another_shape_names_the_tensor_and_both_shapes()
    {
        var network = FedAvgNetworks.Cnn();
        var wrong = new ParameterSet(network.GetParameters().Select(t =>
            t.Name == "conv1.weight" ? Tensor.Zeros("conv1.weight", DType.Float32, [32, 1, 3, 3]) : t));

        var e = Assert.Throws<ArgumentException>(() => network.SetParameters(wrong));

        Assert.Contains("network 'cnn'", e.Message);
        Assert.Contains("expected conv1.weight float32[32,1,5,5], got conv1.weight float32[32,1,3,3]", e.Message);
        var missing = Assert.Throws<ArgumentException>(() => network.SetParameters(FedAvgNetworks.TwoNN().GetParameters()));
        Assert.Contains("missing tensor 'conv1.weight'", missing.Message);
    }

    [Fact]
    public void Initialisation_is_reproducible_for_a_seed_and_differs_between_seeds()
    {
        var a = FedAvgNetworks.TwoNN();
        var b = FedAvgNetworks.TwoNN();
        var c = FedAvgNetworks.TwoNN();

        a.Initialize(7);
        b.Initialize(7);
        c.Initialize(8);

        Assert.Equal(a.Weights, b.Weights);
        Assert.NotEqual(a.Weights, c.Weights);
    }

    [Theory]
    [InlineData(WeightInit.KaimingUniform, 0.0875)] // √(6/784)
    [InlineData(WeightInit.GlorotUniform, 0.0781)]  // √(6/984)
    [InlineData(WeightInit.Torch, 0.0357)]          // 1/√784
    public void Initialisation_draws_fc1_within_the_schemes_bound(WeightInit scheme, double bound)
    {
        var network = FedAvgNetworks.TwoNN();

        network.Initialize(1, scheme);

        var fc1 = network.Weights.AsSpan(0, 784 * 200);
        float max = 0;
        foreach (float w in fc1) max = Math.Max(max, Math.Abs(w));
        Assert.InRange(max, bound * 0.99, bound * 1.001);
    }

    [Theory]
    [InlineData("2nn")]
    [InlineData("cnn")]
    public void Training_steps_allocate_nothing_once_buffers_exist(string model)
    {
        var network = FedAvgNetworks.Create(model);
        network.Threads = 2;
        network.Initialize(1);
        var sgd = new Sgd(network.ParameterCount, 0.01, momentum: 0.9);
        var x = new float[10 * 784];
        int[] labels = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
        void Step()
        {
            var logits = network.Forward(x, 10, training: true);
            var grad = network.OutputGradientBuffer(10);
            Cohort.Learning.Nn.Losses.SoftmaxCrossEntropy.Compute(logits, 10, labels, grad, out _);
            network.Backward(grad, 10);
            sgd.Step(network.Weights, network.Gradients);
        }
        Step();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 5; i++) Step();

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
