using Cohort.Learning.Nn;
using Cohort.Learning.Nn.Layers;

namespace Cohort.Learning.Tests.Nn;

/// <summary>
/// Each layer sits between parameterised layers, so both its own parameter gradients and the input
/// gradient it passes back (seen through the earlier layer's weights) are checked.
/// </summary>
public sealed class LayerGradientTests
{
    [Fact]
    public void Linear_gradients_match_finite_differences() =>
        GradientCheck.VerifyAgainstFiniteDifferences(new Sequential("linear", [6],
            new Linear("fc1", 6, 5), new Linear("fc2", 5, 4)), batch: 3, seed: 1);

    [Fact]
    public void Relu_passes_gradient_only_where_its_output_is_positive() =>
        GradientCheck.VerifyAgainstFiniteDifferences(new Sequential("relu", [6],
            new Linear("fc1", 6, 8), new Relu(), new Linear("fc2", 8, 3)), batch: 4, seed: 2);

    [Fact]
    public void Dropout_scales_kept_values_and_their_gradient_by_the_same_mask() =>
        GradientCheck.VerifyAgainstFiniteDifferences(new Sequential("dropout", [6],
            new Linear("fc1", 6, 8), new Dropout("drop", 0.5), new Linear("fc2", 8, 3)), batch: 4, seed: 3);

    [Theory]
    [InlineData(3, 3, 1, 1)] // 'same'
    [InlineData(3, 2, 2, 0)] // non-square kernel, stride 2, no padding
    [InlineData(5, 5, 2, 2)] // stride 2 with padding
    [InlineData(1, 1, 1, 0)] // pointwise
    public void Conv2d_gradients_match_finite_differences(int kh, int kw, int stride, int padding)
    {
        var conv2 = new Conv2d("conv2", 3, 4, kh, kw, stride, padding);
        var network = new Sequential("conv", [2, 7, 6],
            new Conv2d("conv1", 2, 3, 3, stride: 1, padding: 1),
            conv2,
            new Flatten(),
            new Linear("fc", 4 * ((7 + 2 * padding - kh) / stride + 1) * ((6 + 2 * padding - kw) / stride + 1), 3));

        GradientCheck.VerifyAgainstFiniteDifferences(network, batch: 2, seed: 4);
    }

    [Theory]
    [InlineData(2, null)]
    [InlineData(3, 2)] // overlapping windows
    public void MaxPool2d_routes_the_gradient_to_each_window_maximum(int kernel, int? stride)
    {
        var network = new Sequential("pool", [2, 6, 6],
            new Conv2d("conv", 2, 2, 3, stride: 1, padding: 1),
            new MaxPool2d("pool", kernel, stride),
            new Flatten(),
            new Linear("fc", 2 * ((6 - kernel) / (stride ?? kernel) + 1) * ((6 - kernel) / (stride ?? kernel) + 1), 3));

        GradientCheck.VerifyAgainstFiniteDifferences(network, batch: 3, seed: 5);
    }

    [Fact]
    public void A_small_cnn_of_every_layer_kind_has_correct_gradients_end_to_end() =>
        GradientCheck.VerifyAgainstFiniteDifferences(new Sequential("mini-cnn", [1, 8, 8],
            new Conv2d("conv1", 1, 3, 5, stride: 1, padding: 2), new Relu("r1"), new MaxPool2d("p1", 2),
            new Conv2d("conv2", 3, 4, 3, stride: 1, padding: 1), new Relu("r2"), new MaxPool2d("p2", 2),
            new Flatten(), new Linear("fc1", 16, 6), new Relu("r3"), new Linear("fc2", 6, 3)), batch: 3, seed: 6);
}
