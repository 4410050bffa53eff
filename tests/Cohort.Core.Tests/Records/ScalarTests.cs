using Cohort.Records;

namespace Cohort.Tests.Records;

public sealed class ScalarTests
{
    [Fact]
    public void Implicit_conversions_pick_the_kind()
    {
        Scalar b = true, i = 3, l = 3L, d = 3.0, s = "3";

        Assert.Equal(ScalarKind.Bool, b.Kind);
        Assert.Equal(ScalarKind.Int, i.Kind);
        Assert.Equal(ScalarKind.Int, l.Kind);
        Assert.Equal(ScalarKind.Double, d.Kind);
        Assert.Equal(ScalarKind.String, s.Kind);
    }

    [Fact]
    public void Scalars_of_different_kinds_are_not_equal_even_when_they_print_alike()
    {
        Assert.Equal(Scalar.Of(3L), Scalar.Of(3L));
        Assert.NotEqual(Scalar.Of(3L), Scalar.Of(3.0));
        Assert.NotEqual(Scalar.Of(3L), Scalar.Of("3"));
        Assert.Equal(Scalar.Of(double.NaN), Scalar.Of(double.NaN));
    }

    [Fact]
    public void Typed_getters_return_the_value()
    {
        Assert.True(Scalar.Of(true).AsBool());
        Assert.False(Scalar.Of(false).AsBool());
        Assert.Equal(long.MinValue, Scalar.Of(long.MinValue).AsInt());
        Assert.Equal(0.1, Scalar.Of(0.1).AsDouble());
        Assert.Equal("x", Scalar.Of("x").AsString());
    }

    [Fact]
    public void Integers_widen_to_double()
    {
        Assert.Equal(42.0, Scalar.Of(42).AsDouble());
        Assert.True(Scalar.Of(42).IsNumber);
        Assert.True(Scalar.Of(4.2).IsNumber);
        Assert.False(Scalar.Of("42").IsNumber);
        Assert.False(Scalar.Of(true).IsNumber);
    }

    [Theory]
    [InlineData(3.0, 3L)]
    [InlineData(-0.0, 0L)]
    [InlineData(-1e15, -1_000_000_000_000_000L)]
    [InlineData(9.2233720368547748E18, 9223372036854774784L)] // largest double below 2^63
    [InlineData(-9.2233720368547758E18, long.MinValue)] // -2^63 itself
    public void A_double_without_fraction_reads_as_an_integer(double value, long expected)
    {
        Assert.Equal(expected, Scalar.Of(value).AsInt());
    }

    [Theory]
    [InlineData(2.5)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NegativeInfinity)]
    [InlineData(9.2233720368547758E18)] // 2^63: one past long.MaxValue
    [InlineData(1e30)]
    [InlineData(-1e30)]
    public void A_double_that_is_no_exact_long_does_not_read_as_an_integer(double value)
    {
        var e = Assert.Throws<InvalidCastException>(() => Scalar.Of(value).AsInt());
        Assert.Contains("integer", e.Message);
    }

    [Fact]
    public void Wrong_kind_errors_say_what_was_expected_and_what_was_found()
    {
        Assert.Equal("expected a number, got string fast", Assert.Throws<InvalidCastException>(() => Scalar.Of("fast").AsDouble()).Message);
        Assert.Equal("expected an integer, got bool true", Assert.Throws<InvalidCastException>(() => Scalar.Of(true).AsInt()).Message);
        Assert.Equal("expected a bool, got int 1", Assert.Throws<InvalidCastException>(() => Scalar.Of(1).AsBool()).Message);
        Assert.Equal("expected a string, got double 0.5", Assert.Throws<InvalidCastException>(() => Scalar.Of(0.5).AsString()).Message);
    }

    [Fact]
    public void ToString_is_culture_invariant_and_round_trippable()
    {
        Assert.Equal("true", Scalar.Of(true).ToString());
        Assert.Equal("-12", Scalar.Of(-12).ToString());
        Assert.Equal("0.1", Scalar.Of(0.1).ToString());
        Assert.Equal("1E-07", Scalar.Of(1e-7).ToString());
        Assert.Equal("NaN", Scalar.Of(double.NaN).ToString());
        Assert.Equal("a b", Scalar.Of("a b").ToString());
    }

    [Fact]
    public void A_null_string_is_refused()
    {
        Assert.Throws<ArgumentNullException>(() => Scalar.Of((string)null!));
    }
}
