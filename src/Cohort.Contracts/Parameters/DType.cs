namespace Cohort.Parameters;

/// <summary>Element type of a tensor; values match the wire protocol's enum.</summary>
public enum DType
{
    /// <summary>32-bit IEEE floating point.</summary>
    Float32 = 1,
    /// <summary>64-bit IEEE floating point.</summary>
    Float64 = 2,
    /// <summary>32-bit signed integer.</summary>
    Int32 = 3,
    /// <summary>64-bit signed integer.</summary>
    Int64 = 4,
}

/// <summary>Facts about <see cref="DType"/> values.</summary>
public static class DTypes
{
    /// <summary>Bytes per element.</summary>
    public static int Size(this DType dtype) => dtype switch
    {
        DType.Float32 or DType.Int32 => 4,
        DType.Float64 or DType.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>Lower-case name used in files, plans and messages.</summary>
    public static string Name(this DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int32 => "int32",
        DType.Int64 => "int64",
        _ => $"dtype({(int)dtype})",
    };

    /// <summary>True for a value this version understands.</summary>
    public static bool IsKnown(DType dtype) => dtype is DType.Float32 or DType.Float64 or DType.Int32 or DType.Int64;
}
