using Cohort.Apps;
using Cohort.Records;
using Cohort.Simulation.Partitioners;

namespace Cohort.Simulation.Tests.Partitioners;

public sealed class PartitionerTests
{
    private static readonly PartitionerRegistry Registry = PartitionerRegistry.CreateDefault();

    private static IPartitioner Create(string name, params (string Key, Scalar Value)[] parameters) =>
        Registry.Create(name, new Config(parameters.Select(p => KeyValuePair.Create(p.Key, p.Value))));

    [Fact]
    public void Iid_is_disjoint_complete_and_sizes_differ_by_at_most_one()
    {
        var data = LabelledData.Balanced(10, 103);
        var p = Create("iid").Split(data, 7, new Random(1));
        PartitionAssert.Disjoint(p, data.Count);
        PartitionAssert.Complete(p, data.Count);
        PartitionAssert.Sorted(p, data.Count);
        var sizes = Enumerable.Range(0, 7).Select(p.SizeOf).ToArray();
        Assert.True(sizes.Max() - sizes.Min() <= 1, string.Join(",", sizes));
        // iid: every client sees (nearly) every class.
        Assert.All(Enumerable.Range(0, 7), c => Assert.True(PartitionAssert.ClassesHeld(p, data, c) >= 9));
        PartitionAssert.SameForSeed(Create("iid"), data, 7);
    }

    [Fact]
    public void Iid_with_fewer_examples_than_clients_gives_each_client_one_example_dealt_in_passes()
    {
        var data = LabelledData.Balanced(10, 7); // 70 examples
        var p = Create("iid").Split(data, 1_000, new Random(4));
        Assert.Equal(1_000, p.Clients);
        Assert.All(Enumerable.Range(0, p.Clients), c => Assert.Equal(1, p.SizeOf(c)));
        PartitionAssert.Complete(p, data.Count);
        // Each pass deals every example once: 1000 = 14 passes of 70 and 20 more.
        var holders = new int[data.Count];
        for (int c = 0; c < p.Clients; c++) holders[p.Of(c).Span[0]]++;
        Assert.All(holders, h => Assert.InRange(h, 14, 15));
        Assert.Equal(20, holders.Count(h => h == 15));
        PartitionAssert.SameForSeed(Create("iid"), data, 1_000);
    }

    [Fact]
    public void Dirichlet_with_small_alpha_skews_labels_and_with_large_alpha_approaches_iid()
    {
        var data = LabelledData.Balanced(10, 500);
        var skewed = Create("dirichlet", ("alpha", 0.1)).Split(data, 20, new Random(2));
        var mixed = Create("dirichlet", ("alpha", 1000.0)).Split(data, 20, new Random(2));
        foreach (var p in new[] { skewed, mixed })
        {
            PartitionAssert.Disjoint(p, data.Count);
            PartitionAssert.Complete(p, data.Count);
            PartitionAssert.Sorted(p, data.Count);
        }
        // The share of a client's examples its most common class makes up: 0.1 when perfectly mixed.
        double Dominance(Simulation.Partitioners.PartitionSet p) => Enumerable.Range(0, 20)
            .Where(c => p.SizeOf(c) > 0)
            .Average(c => PartitionReport.LabelCounts(p, data, c).Max() / (double)p.SizeOf(c));
        Assert.True(Dominance(skewed) > 0.6, $"alpha 0.1: dominant class share {Dominance(skewed):0.00}");
        Assert.True(Dominance(mixed) < 0.15, $"alpha 1000: dominant class share {Dominance(mixed):0.00}");
        Assert.Equal(10, Enumerable.Range(0, 20).Min(c => PartitionAssert.ClassesHeld(mixed, data, c)));
        PartitionAssert.SameForSeed(Create("dirichlet", ("alpha", 0.5)), data, 20);
    }

    [Fact]
    public void Dirichlet_min_size_gives_every_client_that_many_examples()
    {
        var data = LabelledData.Balanced(10, 100);
        var p = Create("dirichlet", ("alpha", 0.3), ("min_size", 10L)).Split(data, 10, new Random(3));
        Assert.All(Enumerable.Range(0, 10), c => Assert.True(p.SizeOf(c) >= 10));
    }

    [Fact]
    public void Shards_give_each_client_k_shards_of_one_label_each_as_in_the_FedAvg_paper()
    {
        // MNIST-like: 10 classes of 600, 100 clients × 2 shards of 30 (the paper's 200 × 300 scaled down).
        var data = LabelledData.Balanced(10, 600);
        var p = Create("shards", ("shards_per_client", 2L), ("shard_size", 30L)).Split(data, 100, new Random(4));
        PartitionAssert.Disjoint(p, data.Count);
        PartitionAssert.Complete(p, data.Count);
        PartitionAssert.Sorted(p, data.Count);
        Assert.All(Enumerable.Range(0, 100), c =>
        {
            Assert.Equal(60, p.SizeOf(c));
            Assert.InRange(PartitionAssert.ClassesHeld(p, data, c), 1, 2);
        });
        PartitionAssert.SameForSeed(Create("shards"), data, 100);
    }

    [Fact]
    public void Shards_refuse_more_shards_than_the_data_holds_naming_the_parameter()
    {
        var e = Assert.Throws<PartitionerException>(() => Create("shards", ("shard_size", 400L)).Split(LabelledData.Balanced(10, 60), 2, new Random(0)));
        Assert.Equal("shard_size", e.Key);
        Assert.Contains("at most 150", e.Message);
    }

    [Fact]
    public void Classes_take_sel_prob_of_own_classes_and_def_prob_of_the_others_STADLE_style()
    {
        var data = LabelledData.Balanced(10, 1000);
        var partitioner = Create("classes",
            ("classes.agent01", "1,2,3"), ("classes.agent02", "4,5,6"), ("classes.agent03", "7,8,9,0"),
            ("sel_prob", 1.0), ("def_prob", 0.05));
        var p = partitioner.Split(data, 3, new Random(5));
        Assert.Equal(["agent01", "agent02", "agent03"], p.Names);
        PartitionAssert.Sorted(p, data.Count);
        int[][] own = [[1, 2, 3], [4, 5, 6], [7, 8, 9, 0]];
        for (int c = 0; c < 3; c++)
        {
            var counts = PartitionReport.LabelCounts(p, data, c);
            for (int k = 0; k < 10; k++) Assert.Equal(own[c].Contains(k) ? 1000 : 50, counts[k]);
        }
        // Agents draw independently: the 5% shares overlap other agents' own classes.
        Assert.Equal(3 * 1000 + 7 * 50 + 3 * 1000 + 7 * 50 + 4 * 1000 + 6 * 50, p.TotalIndices);
        PartitionAssert.SameForSeed(partitioner, data, 3);
    }

    [Fact]
    public void Classes_per_client_assign_classes_round_robin()
    {
        var data = LabelledData.Balanced(10, 100);
        var p = Create("classes", ("per_client", 2L)).Split(data, 5, new Random(6));
        PartitionAssert.Disjoint(p, data.Count);
        PartitionAssert.Complete(p, data.Count);
        for (int c = 0; c < 5; c++)
        {
            var counts = PartitionReport.LabelCounts(p, data, c);
            Assert.Equal(100, counts[2 * c]);
            Assert.Equal(100, counts[2 * c + 1]);
        }
    }

    [Fact]
    public void Classes_refuse_a_client_count_that_does_not_match_the_named_clients()
    {
        var e = Assert.Throws<PartitionerException>(() =>
            Create("classes", ("classes.a", "1"), ("classes.b", "2")).Split(LabelledData.Balanced(3, 10), 3, new Random(0)));
        Assert.Contains("set simulation.clients: 2", e.Message);
    }

    [Fact]
    public void Natural_makes_one_named_client_per_group()
    {
        var labels = new int[60];
        var groupOf = new int[60];
        for (int i = 0; i < 60; i++)
        {
            labels[i] = i % 2;
            groupOf[i] = i < 10 ? 0 : i < 30 ? 1 : 2;
        }
        var data = new LabelledData(labels, 2, new DataGroups(["cleveland", "hungarian", "va"], groupOf));
        var p = Create("natural", ("by", "site")).Split(data, 3, new Random(7));
        Assert.Equal(["cleveland", "hungarian", "va"], p.Names);
        Assert.Equal([10, 20, 30], Enumerable.Range(0, 3).Select(p.SizeOf));
        PartitionAssert.Disjoint(p, 60);
        PartitionAssert.Complete(p, 60);
        Assert.Contains("set simulation.clients: 3", Assert.Throws<PartitionerException>(() => Create("natural", ("by", "site")).Split(data, 4, new Random(0))).Message);
        Assert.Equal(["c", "h", "v"], Create("natural", ("by", "site"), ("names", "c,h,v")).Split(data, 3, new Random(7)).Names);
        Assert.Equal("names", Assert.Throws<PartitionerException>(() => Create("natural", ("by", "site"), ("names", "c,h")).Split(data, 3, new Random(7))).Key);
        Assert.Contains("columns: site", Assert.Throws<PartitionerException>(() => Create("natural", ("by", "region")).Split(data, 3, new Random(0))).Message);
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("exponential")]
    public void Size_skewed_sizes_grow_to_ratio_times_the_smallest(string distribution)
    {
        var data = LabelledData.Balanced(10, 1000);
        var p = Create("size-skewed", ("distribution", distribution), ("ratio", 10.0)).Split(data, 20, new Random(8));
        PartitionAssert.Disjoint(p, data.Count);
        PartitionAssert.Complete(p, data.Count);
        var sizes = Enumerable.Range(0, 20).Select(p.SizeOf).ToArray();
        for (int c = 1; c < 20; c++) Assert.True(sizes[c] >= sizes[c - 1], $"sizes not ascending: {string.Join(",", sizes)}");
        Assert.InRange(sizes[^1] / (double)sizes[0], 9.5, 10.5);
    }

    [Fact]
    public void Registry_names_the_allowed_partitioners_and_parameters()
    {
        var unknown = Assert.Throws<PartitionerException>(() => Create("pathological"));
        Assert.Contains("allowed: classes, dirichlet, iid, natural, shards, size-skewed", unknown.Message);
        var param = Assert.Throws<PartitionerException>(() => Create("dirichlet", ("alpha", 0.5), ("beta", 1.0)));
        Assert.Equal("beta", param.Key);
        Assert.Contains("allowed: alpha, min_size", param.Message);
        var missing = Assert.Throws<PartitionerException>(() => Create("dirichlet"));
        Assert.Equal("alpha", missing.Key);
        var unlabelled = Assert.Throws<PartitionerException>(() => Create("dirichlet", ("alpha", 1.0)).Split(new Apps.Empty.EmptySimulationDataset(100), 2, new Random(0)));
        Assert.Contains("needs class labels", unlabelled.Message);
    }
}
