using System.Globalization;

namespace Cohort.Records;

/// <summary>Kind of value a <see cref="Scalar"/> holds.</summary>
public enum ScalarKind
{
    /// <summary>A boolean.</summary>
    Bool,
    /// <summary>A 64-bit integer.</summary>
    Int,
    /// <summary>A double-precision number.</summary>
    Double,
    /// <summary>A string.</summary>
    String,
}

/// <summary>One typed value of a <see cref="Config"/> or <see cref="Metrics"/> map: bool, integer, double or string.</summary>
public readonly record struct Scalar
{
    private readonly long _int;
    private readonly double _double;
    private readonly string? _string;

    private Scalar(ScalarKind kind, long i, double d, string? s)
    {
        Kind = kind;
        _int = i;
        _double = d;
        _string = s;
    }

    /// <summary>What the value is.</summary>
    public ScalarKind Kind { get; }

    /// <summary>A boolean value.</summary>
    public static Scalar Of(bool value) => new(ScalarKind.Bool, value ? 1 : 0, 0, null);

    /// <summary>An integer value.</summary>
    public static Scalar Of(long value) => new(ScalarKind.Int, value, 0, null);

    /// <summary>A floating-point value.</summary>
    public static Scalar Of(double value) => new(ScalarKind.Double, 0, value, null);

    /// <summary>A string value.</summary>
    public static Scalar Of(string value) => new(ScalarKind.String, 0, 0, value ?? throw new ArgumentNullException(nameof(value)));

    /// <summary>Implicit conversions keep call sites short.</summary>
    public static implicit operator Scalar(bool v) => Of(v);

    /// <inheritdoc cref="op_Implicit(bool)"/>
    public static implicit operator Scalar(long v) => Of(v);

    /// <inheritdoc cref="op_Implicit(bool)"/>
    public static implicit operator Scalar(int v) => Of(v);

    /// <inheritdoc cref="op_Implicit(bool)"/>
    public static implicit operator Scalar(double v) => Of(v);

    /// <inheritdoc cref="op_Implicit(bool)"/>
    public static implicit operator Scalar(string v) => Of(v);

    /// <summary>The boolean value; throws for other kinds.</summary>
    public bool AsBool() => Kind == ScalarKind.Bool ? _int != 0 : throw Wrong("bool");

    /// <summary>The integer value; a double with no fraction is accepted.</summary>
    public long AsInt() => Kind switch
    {
        ScalarKind.Int => _int,
        // Range first: infinities and doubles beyond ±2^63 have no fraction but no long either (the cast would saturate).
        ScalarKind.Double when _double >= -9.2233720368547758E18 && _double < 9.2233720368547758E18 && Math.Floor(_double) == _double => (long)_double,
        _ => throw Wrong("integer"),
    };

    /// <summary>The numeric value as a double (integers widen).</summary>
    public double AsDouble() => Kind switch
    {
        ScalarKind.Double => _double,
        ScalarKind.Int => _int,
        _ => throw Wrong("number"),
    };

    /// <summary>The string value; throws for other kinds.</summary>
    public string AsString() => Kind == ScalarKind.String ? _string! : throw Wrong("string");

    /// <summary>True for integers and doubles.</summary>
    public bool IsNumber => Kind is ScalarKind.Int or ScalarKind.Double;

    private InvalidCastException Wrong(string wanted) => new($"expected {(wanted[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an" : "a")} {wanted}, got {Kind.ToString().ToLowerInvariant()} {this}");

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        ScalarKind.Bool => _int != 0 ? "true" : "false",
        ScalarKind.Int => _int.ToString(CultureInfo.InvariantCulture),
        ScalarKind.Double => _double.ToString("R", CultureInfo.InvariantCulture),
        _ => _string ?? "",
    };
}
