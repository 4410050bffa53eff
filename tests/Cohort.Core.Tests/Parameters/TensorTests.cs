using Cohort.Parameters;

namespace Cohort.Tests.Parameters;

public sealed class TensorTests
{
    [Fact]
    public void Tensor_wraps_its_data_without_copying()
    {
        var data = new byte[6 * sizeof(float)];
        var t = new Tensor("w", DType.Float32, [2, 3], data);

        Assert.Same(data, t.Data);
        t.AsFloat32()[5] = 7f;
        Assert.Equal(7f, BitConverter.ToSingle(data, 20));
        Assert.Equal(6, t.Count);
        Assert.Equal("w float32[2,3]", t.Spec);
        Assert.Equal(t.Spec, t.ToString());
    }

    [Fact]
    public void Tensor_with_a_byte_count_that_does_not_match_its_shape_is_rejected_naming_the_tensor()
    {
        var e = Assert.Throws<ArgumentException>(() => new Tensor("layer1.weight", DType.Float32, [2, 3], new byte[23]));

        Assert.Contains("'layer1.weight'", e.Message);
        Assert.Contains("23 bytes", e.Message);
        Assert.Contains("[2,3]", e.Message);
        Assert.Contains("24 bytes", e.Message);
    }

    [Fact]
    public void Tensor_with_a_negative_dimension_is_rejected_naming_the_tensor()
    {
        var e = Assert.Throws<ArgumentException>(() => new Tensor("bias", DType.Float32, [-1], []));

        Assert.Contains("'bias'", e.Message);
        Assert.Contains("-1", e.Message);
    }

    [Fact]
    public void Tensor_with_an_unknown_dtype_is_rejected_naming_the_tensor()
    {
        var e = Assert.Throws<ArgumentException>(() => new Tensor("x", (DType)99, [1], new byte[4]));

        Assert.Contains("'x'", e.Message);
        Assert.Contains("99", e.Message);
    }

    [Fact]
    public void Tensor_without_a_name_is_rejected()
    {
        Assert.ThrowsAny<ArgumentException>(() => new Tensor("", DType.Float32, [1], new byte[4]));
    }

    [Fact]
    public void Tensor_with_a_shape_whose_element_count_overflows_is_rejected()
    {
        Assert.Throws<OverflowException>(() => Tensor.Zeros("huge", DType.Float32, [int.MaxValue, int.MaxValue, int.MaxValue]));
    }

    [Fact]
    public void Scalar_tensor_has_empty_shape_and_one_element()
    {
        var t = Tensor.Zeros("step", DType.Int64, []);

        Assert.Empty(t.Shape);
        Assert.Equal(1, t.Count);
        Assert.Equal(8, t.Data.Length);
        Assert.Equal("step int64[]", t.Spec);
    }

    [Fact]
    public void Tensor_with_a_zero_dimension_is_empty()
    {
        var t = Tensor.Zeros("none", DType.Float64, [3, 0]);

        Assert.Equal(0, t.Count);
        Assert.Empty(t.Data);
        Assert.Equal(0, t.AsFloat64().Length);
    }

    [Theory]
    [InlineData(DType.Float32, 4, "float32")]
    [InlineData(DType.Float64, 8, "float64")]
    [InlineData(DType.Int32, 4, "int32")]
    [InlineData(DType.Int64, 8, "int64")]
    public void DType_has_its_element_size_and_lower_case_name(DType dtype, int size, string name)
    {
        Assert.Equal(size, dtype.Size());
        Assert.Equal(name, dtype.Name());
        Assert.True(DTypes.IsKnown(dtype));
    }

    [Fact]
    public void Unknown_dtype_is_named_by_its_number_and_has_no_size()
    {
        Assert.False(DTypes.IsKnown((DType)0));
        Assert.Equal("dtype(7)", ((DType)7).Name());
        Assert.Throws<ArgumentOutOfRangeException>(() => ((DType)7).Size());
    }

    [Fact]
    public void Typed_views_of_the_wrong_dtype_are_refused_naming_the_tensor()
    {
        var f32 = Tensor.Zeros("a", DType.Float32, [2]);
        var f64 = Tensor.Zeros("b", DType.Float64, [2]);

        Assert.Contains("'a' is float32", Assert.Throws<InvalidOperationException>(() => f32.AsFloat64()).Message);
        Assert.Contains("'b' is float64", Assert.Throws<InvalidOperationException>(() => f64.AsFloat32()).Message);
    }

    [Fact]
    public void FromFloat32_copies_the_values()
    {
        float[] values = [1f, -2.5f, 3f];
        var t = Tensor.FromFloat32("v", [3], values);
        values[0] = 100f;

        Assert.Equal([1f, -2.5f, 3f], t.AsFloat32().ToArray());
        Assert.Equal(DType.Float32, t.DType);
    }

    [Fact]
    public void FromFloat32_rejects_values_that_do_not_fill_the_shape()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromFloat32("v", [2, 2], [1f, 2f, 3f]));
        Assert.Contains("'v'", e.Message);
    }

    [Fact]
    public void Clone_is_independent_of_the_original()
    {
        var original = Tensor.FromFloat32("w", [2], [1f, 2f]);
        var copy = original.Clone();

        copy.AsFloat32()[0] = 9f;
        copy.Shape[0] = 5;

        Assert.Equal([1f, 2f], original.AsFloat32().ToArray());
        Assert.Equal([2], original.Shape);
        Assert.NotSame(original.Data, copy.Data);
    }

    [Fact]
    public void HasSameSpec_compares_name_dtype_and_shape()
    {
        var t = Tensor.Zeros("w", DType.Float32, [2, 3]);

        Assert.True(t.HasSameSpec(Tensor.Zeros("w", DType.Float32, [2, 3])));
        Assert.False(t.HasSameSpec(Tensor.Zeros("v", DType.Float32, [2, 3])));
        Assert.False(t.HasSameSpec(Tensor.Zeros("w", DType.Int32, [2, 3])));
        Assert.False(t.HasSameSpec(Tensor.Zeros("w", DType.Float32, [3, 2])));
        Assert.False(t.HasSameSpec(Tensor.Zeros("w", DType.Float32, [6])));
    }
}
