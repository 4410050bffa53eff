using Cohort.Learning.Nn.Layers;

namespace Cohort.Learning.Nn;

/// <summary>The two MNIST networks of McMahan et al. 2017 ("Communication-Efficient Learning of Deep Networks from Decentralized Data").</summary>
public static class FedAvgNetworks
{
    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static readonly string[] Names = ["2nn", "cnn"];

    /// <summary>
    /// 2NN: a multilayer perceptron with two hidden layers of 200 units and ReLU, 784-200-200-10,
    /// 199,210 parameters (fc1, fc2, fc3).
    /// </summary>
    public static Sequential TwoNN() => new("2nn", [1, 28, 28],
        new Flatten(),
        new Linear("fc1", 784, 200), new Relu("relu1"),
        new Linear("fc2", 200, 200), new Relu("relu2"),
        new Linear("fc3", 200, 10));

    /// <summary>
    /// CNN: two 5×5 convolutions (32 then 64 channels, 'same' padding) each followed by ReLU and 2×2
    /// max pooling, a fully connected layer of 512 units with ReLU and a softmax output of 10:
    /// 1,663,370 parameters (conv1, conv2, fc1, fc2).
    /// </summary>
    public static Sequential Cnn() => new("cnn", [1, 28, 28],
        new Conv2d("conv1", 1, 32, 5, stride: 1, padding: 2), new Relu("relu1"), new MaxPool2d("pool1", 2),
        new Conv2d("conv2", 32, 64, 5, stride: 1, padding: 2), new Relu("relu2"), new MaxPool2d("pool2", 2),
        new Flatten(),
        new Linear("fc1", 7 * 7 * 64, 512), new Relu("relu3"),
        new Linear("fc2", 512, 10));

    /// <summary>The network called <paramref name="name"/> ("2nn" or "cnn", case-insensitive).</summary>
    public static Sequential Create(string name) => name.ToLowerInvariant() switch
    {
        "2nn" => TwoNN(),
        "cnn" => Cnn(),
        _ => throw new ArgumentException($"unknown network '{name}'; known: {string.Join(", ", Names)}", nameof(name)),
    };
}
