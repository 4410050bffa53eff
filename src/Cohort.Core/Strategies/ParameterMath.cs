using System.Numerics;
using System.Numerics.Tensors;
using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>
/// Whole-model vector operations the server-side optimisers share, vectorised per tensor with
/// TensorPrimitives. Float tensors (float32, float64) take part; integer tensors (counters) are copied.
/// </summary>
public static class ParameterMath
{
    /// <summary>True for the dtypes aggregation does arithmetic on.</summary>
    public static bool IsFloat(DType dtype) => dtype is DType.Float32 or DType.Float64;

    /// <summary><paramref name="destination"/> = <paramref name="x"/> − <paramref name="y"/>, tensor by tensor (integer tensors copy x).</summary>
    public static void Subtract(ParameterSet x, ParameterSet y, ParameterSet destination)
    {
        for (int i = 0; i < destination.Count; i++)
        {
            var d = destination[i];
            switch (d.DType)
            {
                case DType.Float32: TensorPrimitives.Subtract(x[i].AsFloat32(), y[i].AsFloat32(), d.AsFloat32()); break;
                case DType.Float64: TensorPrimitives.Subtract(x[i].AsFloat64(), y[i].AsFloat64(), d.AsFloat64()); break;
                default: x[i].Data.CopyTo(d.Data, 0); break;
            }
        }
    }

    /// <summary>Copies the integer (non-float) tensors of <paramref name="source"/> into <paramref name="destination"/>, shaped alike.</summary>
    internal static void CopyIntegers(ParameterSet source, ParameterSet destination)
    {
        for (int i = 0; i < destination.Count; i++)
        {
            if (!IsFloat(destination[i].DType)) source[i].Data.CopyTo(destination[i].Data, 0);
        }
    }

    /// <summary><paramref name="accumulator"/> += <paramref name="scale"/> · <paramref name="x"/> on float tensors.</summary>
    public static void AddScaled(ParameterSet accumulator, ParameterSet x, double scale)
    {
        for (int i = 0; i < accumulator.Count; i++)
        {
            var a = accumulator[i];
            switch (a.DType)
            {
                case DType.Float32: TensorPrimitives.MultiplyAdd(x[i].AsFloat32(), (float)scale, a.AsFloat32(), a.AsFloat32()); break;
                case DType.Float64: TensorPrimitives.MultiplyAdd(x[i].AsFloat64(), scale, a.AsFloat64(), a.AsFloat64()); break;
            }
        }
    }

    /// <summary>Multiplies every float tensor of <paramref name="x"/> by <paramref name="scale"/> in place.</summary>
    public static void Scale(ParameterSet x, double scale)
    {
        foreach (var t in x)
        {
            if (t.DType == DType.Float32) TensorPrimitives.Multiply(t.AsFloat32(), (float)scale, t.AsFloat32());
            else if (t.DType == DType.Float64) TensorPrimitives.Multiply(t.AsFloat64(), scale, t.AsFloat64());
        }
    }

    /// <summary>Σ (xᵢ − yᵢ)² over the float tensors, accumulated in double.</summary>
    public static double SquaredDistance(ParameterSet x, ParameterSet y)
    {
        double sum = 0;
        for (int i = 0; i < x.Count; i++)
        {
            var a = x[i];
            if (a.DType == DType.Float32)
            {
                double d = TensorPrimitives.Distance<float>(a.AsFloat32(), y[i].AsFloat32());
                sum += d * d;
            }
            else if (a.DType == DType.Float64)
            {
                double d = TensorPrimitives.Distance<double>(a.AsFloat64(), y[i].AsFloat64());
                sum += d * d;
            }
        }
        return sum;
    }

    /// <summary>Σ xᵢ² over the float tensors.</summary>
    public static double SquaredNorm(ParameterSet x)
    {
        double sum = 0;
        foreach (var t in x)
        {
            if (t.DType == DType.Float32) sum += TensorPrimitives.SumOfSquares<float>(t.AsFloat32());
            else if (t.DType == DType.Float64) sum += TensorPrimitives.SumOfSquares<double>(t.AsFloat64());
        }
        return sum;
    }

    /// <summary>Applies <paramref name="step"/> to each float tensor of <paramref name="target"/>, as a float32 or float64 span.</summary>
    public static void ForEachFloat<TStep>(ParameterSet target, ref TStep step) where TStep : struct, IFloatStep
    {
        for (int i = 0; i < target.Count; i++)
        {
            var t = target[i];
            if (t.DType == DType.Float32) step.Apply(i, t.AsFloat32());
            else if (t.DType == DType.Float64) step.Apply(i, t.AsFloat64());
        }
    }

    /// <summary>A typed view of a float tensor's data; the dtype must match <typeparamref name="T"/>.</summary>
    public static Span<T> View<T>(Parameters.Tensor tensor) where T : unmanaged
    {
        bool ok = typeof(T) == typeof(float) ? tensor.DType == DType.Float32 : typeof(T) == typeof(double) && tensor.DType == DType.Float64;
        if (!ok) throw new InvalidOperationException($"tensor '{tensor.Name}' is {tensor.DType.Name()}, not {typeof(T).Name}");
        return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, T>(tensor.Data.AsSpan());
    }
}

/// <summary>A per-tensor update written once for both float widths; tensors of other sets are read with <see cref="ParameterMath.View{T}"/>.</summary>
public interface IFloatStep
{
    /// <summary>Updates <paramref name="target"/>, the float tensor at <paramref name="index"/>.</summary>
    void Apply<T>(int index, Span<T> target) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>;
}
