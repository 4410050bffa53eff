using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

public sealed class NodeSamplerTests
{
    private static string[] Nodes(int n) => Enumerable.Range(0, n).Select(i => $"node-{i:D3}").ToArray();

    [Theory]
    [InlineData(10, 1.0, 1, 10)]
    [InlineData(10, 0.5, 1, 5)]
    [InlineData(10, 0.25, 1, 3)] // 2.5 rounds up
    [InlineData(10, 0.01, 0, 1)] // any positive fraction samples at least one
    [InlineData(10, 0.1, 4, 4)] // the minimum wins over a small fraction
    [InlineData(3, 0.5, 5, 3)] // never more than are available
    [InlineData(10, 2.0, 1, 10)]
    [InlineData(10, 0.0, 0, 0)]
    [InlineData(10, 0.0, 2, 2)]
    [InlineData(0, 1.0, 2, 0)]
    public void Sample_takes_the_larger_of_fraction_and_minimum_capped_at_available(int available, double fraction, int minimum, int expected)
    {
        var sample = NodeSampler.Sample(Nodes(available), fraction, minimum, new Random(3));

        Assert.Equal(expected, sample.Count);
        Assert.Equal(expected, sample.Distinct().Count());
        Assert.All(sample, n => Assert.Contains(n, Nodes(available)));
    }

    [Fact]
    public void Sample_size_is_exact_for_decimal_fractions_despite_binary_rounding()
    {
        // 0.07·100 is 7.000000000000001 in binary floating point; it must still sample 7 nodes, not 8.
        Assert.Equal(7, NodeSampler.Sample(Nodes(100), 0.07, 0, new Random(1)).Count);
        foreach (int n in new[] { 100, 200, 1000 })
        {
            for (int hundredths = 1; hundredths <= 100; hundredths++)
            {
                double fraction = hundredths / 100.0;
                Assert.True(NodeSampler.Sample(Nodes(n), fraction, 0, new Random(1)).Count == n * hundredths / 100, $"fraction {fraction} of {n}");
            }
        }
        for (int n = 1; n <= 60; n++)
        {
            for (int k = 0; k <= n; k++)
            {
                double fraction = (double)k / n;
                Assert.True(NodeSampler.Sample(Nodes(n), fraction, 0, new Random(1)).Count == k, $"fraction {k}/{n} of {n}");
            }
        }
    }

    [Fact]
    public void Sample_is_deterministic_for_a_seed_and_independent_of_the_input_order()
    {
        var nodes = Nodes(40);
        var reversed = nodes.Reverse().ToArray();

        var first = NodeSampler.Sample(nodes, 0.25, 1, new Random(42));
        var again = NodeSampler.Sample(nodes, 0.25, 1, new Random(42));
        var fromReversed = NodeSampler.Sample(reversed, 0.25, 1, new Random(42));

        Assert.Equal(first, again);
        Assert.Equal(first, fromReversed);
    }

    [Fact]
    public void Sample_varies_with_the_seed()
    {
        var nodes = Nodes(20);

        var distinct = Enumerable.Range(0, 20)
            .Select(seed => string.Join(",", NodeSampler.Sample(nodes, 0.25, 1, new Random(seed))))
            .Distinct()
            .Count();

        Assert.True(distinct > 10, $"only {distinct} distinct samples over 20 seeds");
    }

    [Fact]
    public void Sample_is_returned_in_ordinal_order()
    {
        var sample = NodeSampler.Sample(["b", "a", "C", "c", "B"], 0.6, 0, new Random(9));

        Assert.Equal(sample.Order(StringComparer.Ordinal), sample);
        Assert.Equal(3, sample.Count);
    }

    [Fact]
    public void Sample_does_not_modify_the_available_list()
    {
        string[] nodes = ["c", "a", "b"];

        NodeSampler.Sample(nodes, 1.0, 1, new Random(1));

        Assert.Equal(["c", "a", "b"], nodes);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(10, 3)]
    [InlineData(10, 9)]
    [InlineData(10, 10)]
    [InlineData(257, 100)]
    [InlineData(1000, 1000)]
    public void Sample_is_the_first_places_of_a_full_shuffle_of_the_ordered_nodes(int available, int wanted)
    {
        // The sample a full Fisher–Yates shuffle gave before sampling drew only the places it keeps.
        var nodes = Nodes(available).Reverse().ToArray();
        for (int seed = 0; seed < 20; seed++)
        {
            var all = nodes.Order(StringComparer.Ordinal).ToArray();
            new Random(seed).Shuffle(all);
            var expected = all[..wanted].Order(StringComparer.Ordinal).ToArray();

            var sample = NodeSampler.Sample(nodes, (double)wanted / available, 0, new Random(seed));

            Assert.Equal(expected, sample);
        }
    }

    [Fact]
    public void Sample_of_an_ordered_list_reads_only_the_picked_nodes_and_matches_the_sorted_copy()
    {
        var million = new CountingOrderedList(1_000_000);

        var sample = NodeSampler.Sample(million, 100.0 / 1_000_000, 100, new Random(5));

        Assert.Equal(100, million.Reads);
        Assert.Equal(100, sample.Distinct().Count());
        var copy = Enumerable.Range(0, 2_000).Select(i => CountingOrderedList.NameOf(i)).ToArray();
        var small = new CountingOrderedList(2_000);
        Assert.Equal(NodeSampler.Sample(copy, 0.05, 0, new Random(8)), NodeSampler.Sample(small, 0.05, 0, new Random(8)));
    }

    /// <summary>Numbered names made on demand, counting how many were read.</summary>
    private sealed class CountingOrderedList(int count) : IOrderedNodeList
    {
        public int Reads { get; private set; }

        public int Count => count;

        public string this[int index]
        {
            get
            {
                Reads++;
                return NameOf(index);
            }
        }

        public static string NameOf(int index) => $"n-{index:D7}";

        public IEnumerator<string> GetEnumerator() => throw new InvalidOperationException("the sampler must not enumerate every node");

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
