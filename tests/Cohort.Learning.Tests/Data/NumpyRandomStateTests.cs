using Cohort.Learning.Data;

namespace Cohort.Learning.Tests.Data;

public sealed class NumpyRandomStateTests
{
    [Fact]
    public void Mersenne_twister_matches_the_reference_outputs_for_seed_5489()
    {
        var rng = new NumpyRandomState(5489);
        Assert.Equal(3499211612u, rng.NextUInt32());
        for (int i = 2; i < 10000; i++) rng.NextUInt32();
        Assert.Equal(4123659995u, rng.NextUInt32()); // the C++ standard's check value for mt19937
    }

    [Fact]
    public void Permutation_matches_numpy_random_state_0()
    {
        // numpy.random.RandomState(0).permutation(10)
        Assert.Equal([2, 8, 4, 9, 1, 6, 7, 3, 0, 5], new NumpyRandomState(0).Permutation(10));
    }

    [Fact]
    public void Permutation_matches_numpy_random_state_42()
    {
        // numpy.random.RandomState(42).permutation(10)
        Assert.Equal([8, 1, 5, 0, 7, 2, 9, 4, 3, 6], new NumpyRandomState(42).Permutation(10));
    }
}
