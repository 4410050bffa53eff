namespace Cohort.Parameters;

/// <summary>Where the bytes of <see cref="StoredTensors"/> are read from: a file, addressed by byte position.</summary>
internal interface ITensorStorage
{
    /// <summary>Fills <paramref name="destination"/> from byte <paramref name="position"/> on.</summary>
    void Read(long position, Span<byte> destination);
}
