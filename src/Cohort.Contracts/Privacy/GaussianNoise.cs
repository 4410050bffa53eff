using System.Buffers;
using System.Security.Cryptography;

namespace Cohort.Privacy;

/// <summary>
/// Gaussian noise for differential privacy. By default the randomness comes from the operating
/// system's cryptographic generator: noise an observer could predict would protect nothing. A seed
/// makes it reproducible, for tests only.
/// </summary>
public sealed class GaussianNoise(long? seed = null)
{
    private Random? _random = seed is { } s ? new Random(unchecked((int)(s ^ (s >> 32)))) : null;

    /// <summary>Random bytes drawn so far from the seeded generator (0 when unseeded): its position, for a checkpoint.</summary>
    public long BytesDrawn { get; private set; }

    /// <summary>Moves a seeded generator to the position after <paramref name="bytes"/> bytes, as a restarted run resumes; no effect when unseeded.</summary>
    public void SkipTo(long bytes)
    {
        if (seed is not { } s) return;
        // Random(int) yields the same stream however NextBytes calls are split, so replaying the count restores it.
        _random = new Random(unchecked((int)(s ^ (s >> 32))));
        BytesDrawn = 0;
        var buffer = new byte[64 << 10];
        while (BytesDrawn < bytes)
        {
            int n = (int)Math.Min(buffer.Length, bytes - BytesDrawn);
            _random.NextBytes(buffer.AsSpan(0, n));
            BytesDrawn += n;
        }
    }

    /// <summary>Adds N(0, σ²) to every element.</summary>
    public void AddTo(Span<float> values, double sigma)
    {
        if (sigma <= 0) return;
        const int Block = 4096;
        var bytes = ArrayPool<byte>.Shared.Rent(Block * sizeof(ulong));
        try
        {
            for (int start = 0; start < values.Length; start += Block)
            {
                var slice = values.Slice(start, Math.Min(Block, values.Length - start));
                var raw = bytes.AsSpan(0, ((slice.Length + 1) / 2) * 2 * sizeof(ulong));
                if (_random is null) RandomNumberGenerator.Fill(raw);
                else
                {
                    _random.NextBytes(raw);
                    BytesDrawn += raw.Length;
                }
                var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(raw);
                for (int i = 0; i < slice.Length; i += 2)
                {
                    // Box–Muller: two uniforms in (0, 1] give two independent standard normals.
                    double u1 = ((words[i] >> 11) + 1) * (1.0 / (1UL << 53));
                    double u2 = (words[i + 1] >> 11) * (1.0 / (1UL << 53));
                    double r = Math.Sqrt(-2.0 * Math.Log(u1)) * sigma;
                    slice[i] += (float)(r * Math.Cos(2 * Math.PI * u2));
                    if (i + 1 < slice.Length) slice[i + 1] += (float)(r * Math.Sin(2 * Math.PI * u2));
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }
}
