namespace Cohort.Learning.Data.Mnist;

/// <summary>
/// Maps a byte pixel to a float: v/255, then optionally (v − mean)/std. A 256-entry table makes the
/// conversion one lookup per pixel.
/// </summary>
internal sealed class PixelScaling
{
    /// <summary>MNIST's training-set pixel mean after scaling to [0, 1] (the usual 0.1307).</summary>
    public const float MnistMean = 0.1307f;

    /// <summary>MNIST's training-set pixel standard deviation after scaling to [0, 1] (the usual 0.3081).</summary>
    public const float MnistStd = 0.3081f;

    private readonly float[] _table = new float[256];

    /// <summary>Creates the mapping (v/255 − mean)/std.</summary>
    public PixelScaling(float mean = 0, float std = 1)
    {
        if (!(std > 0) || !float.IsFinite(mean)) throw new ArgumentOutOfRangeException(nameof(std), $"std must be positive and mean finite, got mean {mean}, std {std}");
        Mean = mean;
        Std = std;
        for (int v = 0; v < 256; v++) _table[v] = (v / 255f - mean) / std;
    }

    /// <summary>Pixels scaled to [0, 1].</summary>
    public static PixelScaling UnitInterval { get; } = new();

    /// <summary>Pixels scaled to [0, 1] and standardised with MNIST's mean and standard deviation.</summary>
    public static PixelScaling MnistStandardized { get; } = new(MnistMean, MnistStd);

    /// <summary>Subtracted after scaling to [0, 1].</summary>
    public float Mean { get; }

    /// <summary>Divides after subtracting the mean.</summary>
    public float Std { get; }

    /// <summary>Converts <paramref name="pixels"/> into <paramref name="values"/> (same length).</summary>
    public void Convert(ReadOnlySpan<byte> pixels, Span<float> values)
    {
        var table = _table;
        values = values[..pixels.Length];
        for (int i = 0; i < pixels.Length; i++) values[i] = table[pixels[i]];
    }
}
