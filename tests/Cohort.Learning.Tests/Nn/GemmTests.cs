using Cohort.Learning.Nn.Kernels;

namespace Cohort.Learning.Tests.Nn;

public sealed class GemmTests
{
    [Theory]
    [InlineData(false, false, 7, 19, 5)]
    [InlineData(false, true, 13, 33, 17)]
    [InlineData(true, false, 6, 16, 1)]
    [InlineData(true, true, 25, 40, 31)]
    // Crosses every block edge: rows past MC (120), depth past KC (256), columns past NC (2048).
    [InlineData(false, true, 131, 2100, 300)]
    [InlineData(true, false, 121, 70, 520)]
    // A few rows times a large transposed B (row dot products), and a row-major B read in place.
    [InlineData(false, true, 10, 300, 70)]
    [InlineData(false, true, 3, 2100, 260)]
    [InlineData(false, true, 12, 7, 37)] // row dots: columns not a whole block, depth with a tail
    [InlineData(false, true, 1, 5, 16)]
    [InlineData(false, false, 50, 1000, 300)]
    public void Product_matches_a_double_precision_reference_for_every_transpose_and_edge(bool transA, bool transB, int m, int n, int k)
    {
        var random = new Random(m * 1000 + n + k);
        var a = Random(random, m * k);
        var b = Random(random, k * n);
        var c = new float[m * n];

        Gemm.Multiply(transA, transB, m, n, k, a, transA ? m : k, b, transB ? k : n, c, n, accumulate: false, threads: 2);

        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double expected = 0;
                for (int p = 0; p < k; p++)
                    expected += (double)a[transA ? p * m + i : i * k + p] * b[transB ? j * k + p : p * n + j];
                Assert.True(Math.Abs(c[i * n + j] - expected) <= 1e-4 * (1 + Math.Sqrt(k)), $"C[{i},{j}] = {c[i * n + j]}, expected {expected}");
            }
    }

    [Fact]
    public void Accumulate_adds_to_C_and_strided_operands_are_respected()
    {
        // A is the left 2×3 block of a 2×5 buffer, C the middle of a 2×6 buffer.
        float[] a = [1, 2, 3, 99, 99, 4, 5, 6, 99, 99];
        float[] b = [1, 0, 0, 1, 1, 1];
        float[] c = [7, 10, 20, 7, 7, 7, 7, 30, 40, 7, 7, 7];

        Gemm.Multiply(false, false, 2, 2, 3, a, 5, b, 2, c.AsSpan(1), 6, accumulate: true, threads: 1);

        Assert.Equal([7, 14, 25, 7, 7, 7, 7, 40, 51, 7, 7, 7], c);
    }

    [Fact]
    public void Results_are_bit_identical_whatever_the_number_of_threads()
    {
        var random = new Random(5);
        int m = 64, n = 1000, k = 800;
        var a = Random(random, m * k);
        var b = Random(random, k * n);
        var one = new float[m * n];
        var four = new float[m * n];

        Gemm.Multiply(false, false, m, n, k, a, k, b, n, one, n, accumulate: false, threads: 1);
        Gemm.Multiply(false, false, m, n, k, a, k, b, n, four, n, accumulate: false, threads: 4);

        Assert.Equal(one, four);
    }

    [Fact]
    public void Too_short_operands_are_refused_naming_the_operand()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Multiply(false, false, 2, 2, 2, new float[3], 2, new float[4], 2, new float[4], 2, accumulate: false, threads: 1));
        Assert.Contains("A needs 4 values", e.Message);
    }

    private static float[] Random(Random random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1);
        return values;
    }
}
