using Cohort.Parameters;

namespace Cohort.Tests.Parameters;

public sealed class ParameterSetTests
{
    private static ParameterSet Model() => new([
        Tensor.FromFloat32("w", [2, 2], [1f, 2f, 3f, 4f]),
        Float64("b", 0.5, -0.5),
        Tensor.Zeros("steps", DType.Int64, []),
    ]);

    private static Tensor Float64(string name, params double[] values)
    {
        var t = Tensor.Zeros(name, DType.Float64, [values.Length]);
        values.CopyTo(t.AsFloat64());
        return t;
    }

    private static Tensor Float32Filled(string name, int count, float value)
    {
        var t = Tensor.Zeros(name, DType.Float32, [count]);
        t.AsFloat32().Fill(value);
        return t;
    }

    [Fact]
    public void ParameterSet_keeps_order_and_finds_tensors_by_name()
    {
        var p = Model();

        Assert.Equal(["w", "b", "steps"], p.Select(t => t.Name));
        Assert.Same(p[1], p["b"]);
        Assert.True(p.Contains("steps"));
        Assert.False(p.Contains("W"));
        Assert.Equal(3, p.Count);
    }

    [Fact]
    public void ParameterSet_counts_elements_and_bytes()
    {
        var p = Model();

        Assert.Equal(4 + 2 + 1, p.ElementCount);
        Assert.Equal(16 + 16 + 8, p.ByteCount);
        Assert.Equal(0, ParameterSet.Empty.ByteCount);
        Assert.Empty(ParameterSet.Empty);
    }

    [Fact]
    public void ParameterSet_with_duplicate_names_is_rejected_naming_the_tensor()
    {
        var e = Assert.Throws<ArgumentException>(() => new ParameterSet([Tensor.Zeros("w", DType.Float32, [1]), Tensor.Zeros("w", DType.Float64, [1])]));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void Looking_up_a_missing_tensor_names_it()
    {
        var e = Assert.Throws<KeyNotFoundException>(() => Model()["missing.weight"]);
        Assert.Contains("'missing.weight'", e.Message);
    }

    [Fact]
    public void Clone_is_a_deep_copy()
    {
        var original = Model();
        var copy = original.Clone();

        copy["w"].AsFloat32()[0] = 100f;
        copy["b"].AsFloat64()[1] = 100.0;

        Assert.Equal([1f, 2f, 3f, 4f], original["w"].AsFloat32().ToArray());
        Assert.Equal([0.5, -0.5], original["b"].AsFloat64().ToArray());
        Assert.Null(original.FindMismatch(copy));
        Assert.All(original.Zip(copy), pair => Assert.NotSame(pair.First.Data, pair.Second.Data));
    }

    [Fact]
    public void ZerosLike_has_the_same_specs_all_zero_and_shares_nothing()
    {
        var original = Model();
        var zeros = original.ZerosLike();

        Assert.Null(original.FindMismatch(zeros));
        Assert.All(zeros, t => Assert.All(t.Data, b => Assert.Equal(0, b)));
        zeros["w"].Shape[0] = 7;
        zeros["w"].AsFloat32()[0] = 5f;
        Assert.Equal([2, 2], original["w"].Shape);
        Assert.Equal(1f, original["w"].AsFloat32()[0]);
    }

    [Fact]
    public void FindMismatch_accepts_an_identically_shaped_finite_set()
    {
        Assert.Null(Model().FindMismatch(Model()));
        Assert.Null(ParameterSet.Empty.FindMismatch(ParameterSet.Empty));
    }

    [Fact]
    public void FindMismatch_reports_a_different_tensor_count()
    {
        var fewer = new ParameterSet(Model().Take(2));

        Assert.Equal("expected 3 tensors, got 2", Model().FindMismatch(fewer));
    }

    [Fact]
    public void FindMismatch_reports_a_different_shape_with_both_specs()
    {
        var other = new ParameterSet([Tensor.FromFloat32("w", [4], [1f, 2f, 3f, 4f]), Float64("b", 0, 0), Tensor.Zeros("steps", DType.Int64, [])]);

        Assert.Equal("tensor 0: expected w float32[2,2], got w float32[4]", Model().FindMismatch(other));
    }

    [Fact]
    public void FindMismatch_reports_a_different_dtype()
    {
        var other = new ParameterSet([Tensor.FromFloat32("w", [2, 2], [1f, 2f, 3f, 4f]), Tensor.Zeros("b", DType.Float32, [2]), Tensor.Zeros("steps", DType.Int64, [])]);

        Assert.Equal("tensor 1: expected b float64[2], got b float32[2]", Model().FindMismatch(other));
    }

    [Fact]
    public void FindMismatch_reports_a_different_name_or_order()
    {
        var m = Model();
        var swapped = new ParameterSet([m[1], m[0], m[2]]);

        Assert.Equal("tensor 0: expected w float32[2,2], got b float64[2]", m.FindMismatch(swapped));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void FindMismatch_reports_a_non_finite_float32_naming_the_tensor(float bad)
    {
        var other = Model();
        other["w"].AsFloat32()[2] = bad;

        Assert.Equal("tensor 'w' holds NaN or infinity", Model().FindMismatch(other));
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    public void FindMismatch_reports_a_non_finite_float64_naming_the_tensor(double bad)
    {
        var other = Model();
        other["b"].AsFloat64()[1] = bad;

        Assert.Equal("tensor 'b' holds NaN or infinity", Model().FindMismatch(other));
    }

    [Fact]
    public void FindMismatch_checks_the_other_set_not_this_one()
    {
        var bad = Model();
        bad["w"].AsFloat32()[0] = float.NaN;

        Assert.Null(bad.FindMismatch(Model()));
        Assert.NotNull(Model().FindMismatch(bad));
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void FindNonFinite_sees_a_bad_value_at_the_very_last_element_of_a_large_tensor(float bad)
    {
        // 1M + 3 elements: many full scan blocks, then a short block whose length is no multiple of any vector width.
        var t = Float32Filled("big", (1 << 20) + 3, 0.25f);
        t.AsFloat32()[^1] = bad;

        Assert.Equal("tensor 'big' holds NaN or infinity", new ParameterSet([t]).FindNonFinite());
    }

    [Fact]
    public void FindNonFinite_sees_a_bad_value_at_every_position_of_odd_length_tails()
    {
        // Lengths around the scan block (4096) and vector widths (4, 8, 16 floats) put the bad value in every kind of tail.
        foreach (int length in new[] { 1, 3, 7, 15, 17, 31, 33, 4095, 4097, 4096 + 4096 + 13 })
        {
            var t = Float32Filled("t", length, -1.5f);
            var p = new ParameterSet([t]);
            Assert.Null(p.FindNonFinite());
            int tail = Math.Min(length, 40);
            for (int i = length - tail; i < length; i++)
            {
                t.AsFloat32()[i] = float.NaN;
                Assert.True(p.FindNonFinite() is not null, $"NaN at {i} of {length} not found");
                t.AsFloat32()[i] = float.PositiveInfinity;
                Assert.True(p.FindNonFinite() is not null, $"+Inf at {i} of {length} not found");
                t.AsFloat32()[i] = -1.5f;
            }
        }
    }

    [Fact]
    public void FindNonFinite_sees_a_bad_value_at_the_very_last_element_of_a_large_float64_tensor()
    {
        var t = Tensor.Zeros("big64", DType.Float64, [(1 << 18) + 5]);
        t.AsFloat64().Fill(3.0);
        t.AsFloat64()[^1] = double.NaN;

        Assert.Equal("tensor 'big64' holds NaN or infinity", new ParameterSet([t]).FindNonFinite());
    }

    [Fact]
    public void FindNonFinite_accepts_extreme_but_finite_values()
    {
        // float.MaxValue - float.MaxValue is 0, and summing many of them must not overflow into infinity.
        var t = Float32Filled("extreme", 10_000, float.MaxValue);
        t.AsFloat32()[1] = float.MinValue;
        t.AsFloat32()[2] = float.Epsilon;
        var d = Float64("extreme64", double.MaxValue, double.MinValue, double.Epsilon);

        Assert.Null(new ParameterSet([t, d]).FindNonFinite());
    }

    [Fact]
    public void FindNonFinite_reports_the_first_bad_tensor_and_ignores_integer_tensors()
    {
        var a = Float32Filled("a", 5, 1f);
        var b = Float32Filled("b", 5, float.NaN);
        var c = Float32Filled("c", 5, float.NaN);
        var ints = Tensor.Zeros("ints", DType.Int32, [2]);
        ints.Data.AsSpan().Fill(0xFF);

        Assert.Equal("tensor 'b' holds NaN or infinity", new ParameterSet([ints, a, b, c]).FindNonFinite());
        Assert.Null(new ParameterSet([ints, a]).FindNonFinite());
    }
}
