using Cohort.Learning.Nn;
using Cohort.Learning.Nn.Layers;

namespace Cohort.Learning.Tests.Nn;

public sealed class ConvolutionTests
{
    [Theory]
    [InlineData(5, 5, 1, 2, 1)]
    [InlineData(3, 2, 2, 1, 3)]
    [InlineData(4, 4, 3, 0, 2)]
    [InlineData(5, 5, 1, 2, 40)] // enough examples to be unfolded in several chunks
    public void Conv2d_forward_equals_the_direct_sum_over_kernel_taps(int kh, int kw, int stride, int padding, int batch)
    {
        int cin = 3, cout = 4, h = 9, w = 8;
        var conv = new Conv2d("conv", cin, cout, kh, kw, stride, padding);
        var network = new Sequential("conv", [cin, h, w], conv);
        network.Initialize(1, WeightInit.Torch);
        var random = new Random(2);
        var x = new float[batch * cin * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);

        var y = network.Forward(x, batch).ToArray();

        int oh = conv.OutputShape[1], ow = conv.OutputShape[2];
        var weights = network.Weights;
        int biasOffset = cout * cin * kh * kw;
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                    {
                        double sum = weights[biasOffset + o];
                        for (int c = 0; c < cin; c++)
                            for (int ky = 0; ky < kh; ky++)
                                for (int kx = 0; kx < kw; kx++)
                                {
                                    int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    sum += (double)weights[((o * cin + c) * kh + ky) * kw + kx] * x[((b * cin + c) * h + iy) * w + ix];
                                }
                        float actual = y[((b * cout + o) * oh + oy) * ow + ox];
                        Assert.True(Math.Abs(actual - sum) < 1e-4, $"y[{b},{o},{oy},{ox}] = {actual}, expected {sum}");
                    }
    }

    [Theory]
    [InlineData(3, 1, 13, 1, 1)] // rows of 13: one whole vector and a tail of five
    [InlineData(5, 2, 16, 3, 2)] // rows of 16, several examples, two threads
    [InlineData(3, 0, 6, 2, 1)] // rows shorter than a vector
    public void Conv2d_input_gradient_equals_the_direct_sum_over_kernel_taps(int k, int padding, int w, int batch, int threads)
    {
        int cin = 3, cout = 5, h = 7;
        var conv = new Conv2d("conv", cin, cout, k, stride: 1, padding: padding);
        var network = new Sequential("conv", [cin, h, w], conv) { Threads = threads };
        network.Initialize(1, WeightInit.Torch);
        var random = new Random(3);
        var x = new float[batch * cin * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        var y = network.Forward(x, batch).ToArray();
        var dy = new float[y.Length];
        for (int i = 0; i < dy.Length; i++) dy[i] = (float)(random.NextDouble() * 2 - 1);
        var dx = new float[x.Length];

        conv.Backward(x, y, dy, dx, batch);

        int oh = conv.OutputShape[1], ow = conv.OutputShape[2];
        var weights = network.Weights;
        var expected = new double[x.Length];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int oy = 0; oy < oh; oy++)
                    for (int ox = 0; ox < ow; ox++)
                        for (int c = 0; c < cin; c++)
                            for (int ky = 0; ky < k; ky++)
                                for (int kx = 0; kx < k; kx++)
                                {
                                    int iy = oy - padding + ky, ix = ox - padding + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    expected[((b * cin + c) * h + iy) * w + ix] +=
                                        (double)weights[((o * cin + c) * k + ky) * k + kx] * dy[((b * cout + o) * oh + oy) * ow + ox];
                                }
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(dx[i] - expected[i]) < 1e-4, $"dx[{i}] = {dx[i]}, expected {expected[i]}");
    }

    [Fact]
    public void MaxPool2d_takes_the_maximum_of_each_window()
    {
        var network = new Sequential("pool", [1, 4, 4], new MaxPool2d("pool", 2));
        float[] x = [1, 2, 5, 3, 4, 0, 1, 1, -1, -2, 7, 8, -3, -4, 9, 6];

        Assert.Equal([4f, 5, -1, 9], network.Forward(x, 1).ToArray());
    }

    [Theory]
    [InlineData(2, 2, 7, 9)] // the unrolled 2×2 path, odd sizes (the last row and column are dropped)
    [InlineData(3, 2, 7, 9)] // overlapping windows, the generic path
    [InlineData(2, 1, 5, 6)]
    public void MaxPool2d_output_and_argmax_routing_match_a_direct_scan(int kernel, int stride, int h, int w)
    {
        var network = new Sequential("pool", [3, h, w], new MaxPool2d("pool", kernel, stride));
        var random = new Random(kernel * 10 + stride);
        int batch = 2;
        var x = new float[batch * 3 * h * w];
        for (int i = 0; i < x.Length; i++) x[i] = random.Next(7); // many ties: the first maximum must win
        var y = network.Forward(x, batch).ToArray();
        var dy = new float[y.Length];
        for (int i = 0; i < dy.Length; i++) dy[i] = i + 1;

        var layer = (MaxPool2d)network.Layers[0];
        var dx = new float[x.Length];
        layer.Backward(x, y, dy, dx, batch);

        int oh = (h - kernel) / stride + 1, ow = (w - kernel) / stride + 1;
        var expectedDx = new float[x.Length];
        for (int plane = 0; plane < batch * 3; plane++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                {
                    int best = -1;
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int i = plane * h * w + (oy * stride + ky) * w + ox * stride + kx;
                            if (best < 0 || x[i] > x[best]) best = i;
                        }
                    int o = (plane * oh + oy) * ow + ox;
                    Assert.Equal(x[best], y[o]);
                    expectedDx[best] += dy[o];
                }
        Assert.Equal(expectedDx, dx);
    }

    [Fact]
    public void Layers_refuse_inputs_of_the_wrong_shape_naming_the_layer()
    {
        var e = Assert.Throws<ArgumentException>(() => new Sequential("bad", [3, 28, 28], new Conv2d("conv1", 1, 32, 5, padding: 2)));
        Assert.Contains("layer 'conv1'", e.Message);
        Assert.Contains("[3,28,28]", e.Message);
        Assert.Contains("[1, height, width]", e.Message);

        e = Assert.Throws<ArgumentException>(() => new Sequential("bad", [1, 28, 28], new Flatten(), new Linear("fc1", 700, 10)));
        Assert.Contains("layer 'fc1'", e.Message);
        Assert.Contains("700 values per example", e.Message);
    }
}
