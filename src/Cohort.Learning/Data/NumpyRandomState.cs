namespace Cohort.Learning.Data;

/// <summary>
/// The Mersenne Twister of numpy's legacy <c>numpy.random.RandomState(seed)</c>, with its
/// <c>shuffle</c> and <c>permutation</c>. Splits built on it select the same rows as scikit-learn
/// with <c>random_state=seed</c>, which is what makes FLamby's benchmark numbers reproducible here.
/// </summary>
internal sealed class NumpyRandomState
{
    private const int N = 624;
    private const int M = 397;
    private readonly uint[] _mt = new uint[N];
    private int _index;

    /// <summary>Seeds like <c>RandomState(seed)</c> with an integer seed (MT19937 init_genrand).</summary>
    public NumpyRandomState(uint seed)
    {
        _mt[0] = seed;
        for (int i = 1; i < N; i++)
            _mt[i] = unchecked(1812433253u * (_mt[i - 1] ^ (_mt[i - 1] >> 30)) + (uint)i);
        _index = N;
    }

    /// <summary>The next 32 random bits.</summary>
    public uint NextUInt32()
    {
        if (_index >= N) Twist();
        uint y = _mt[_index++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680u;
        y ^= (y << 15) & 0xefc60000u;
        y ^= y >> 18;
        return y;
    }

    /// <summary>The next 64 random bits (high word first, as numpy draws them).</summary>
    public ulong NextUInt64()
    {
        ulong high = NextUInt32();
        return (high << 32) | NextUInt32();
    }

    /// <summary>A uniform integer in [0, <paramref name="max"/>] by masked rejection (numpy's <c>random_interval</c>).</summary>
    public ulong Interval(ulong max)
    {
        if (max == 0) return 0;
        ulong mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        mask |= mask >> 32;
        ulong value;
        if (max <= uint.MaxValue)
        {
            while ((value = NextUInt32() & mask) > max) { }
        }
        else
        {
            while ((value = NextUInt64() & mask) > max) { }
        }
        return value;
    }

    /// <summary>Shuffles in place exactly as <c>RandomState.shuffle</c> does for a 1-d array.</summary>
    public void Shuffle<T>(Span<T> values)
    {
        for (int i = values.Length - 1; i >= 1; i--)
        {
            int j = (int)Interval((ulong)i);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }

    /// <summary><c>RandomState.permutation(n)</c>: a shuffled 0..n-1.</summary>
    public int[] Permutation(int n)
    {
        var a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        Shuffle<int>(a);
        return a;
    }

    private void Twist()
    {
        for (int i = 0; i < N; i++)
        {
            uint y = (_mt[i] & 0x80000000u) | (_mt[(i + 1) % N] & 0x7fffffffu);
            uint next = _mt[(i + M) % N] ^ (y >> 1);
            if ((y & 1) != 0) next ^= 0x9908b0dfu;
            _mt[i] = next;
        }
        _index = 0;
    }
}
