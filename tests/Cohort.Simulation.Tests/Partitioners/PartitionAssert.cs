using Cohort.Apps;
using Cohort.Simulation.Partitioners;

namespace Cohort.Simulation.Tests.Partitioners;

/// <summary>Invariants shared by the partitioner tests.</summary>
internal static class PartitionAssert
{
    /// <summary>No example belongs to two clients.</summary>
    public static void Disjoint(PartitionSet p, int count)
    {
        var owner = new int[count];
        Array.Fill(owner, -1);
        for (int c = 0; c < p.Clients; c++)
        {
            foreach (int i in p.Of(c).Span)
            {
                Assert.True(owner[i] < 0, $"example {i} belongs to clients {owner[i]} and {c}");
                owner[i] = c;
            }
        }
    }

    /// <summary>Every example belongs to some client.</summary>
    public static void Complete(PartitionSet p, int count)
    {
        var seen = new bool[count];
        for (int c = 0; c < p.Clients; c++) foreach (int i in p.Of(c).Span) seen[i] = true;
        int missing = Array.IndexOf(seen, false);
        Assert.True(missing < 0, $"example {missing} belongs to no client");
    }

    /// <summary>Each client's indices are ascending and in range.</summary>
    public static void Sorted(PartitionSet p, int count)
    {
        for (int c = 0; c < p.Clients; c++)
        {
            var s = p.Of(c).Span;
            for (int i = 0; i < s.Length; i++)
            {
                Assert.InRange(s[i], 0, count - 1);
                if (i > 0) Assert.True(s[i] > s[i - 1], $"client {c} indices not strictly ascending at {i}");
            }
        }
    }

    /// <summary>Number of classes client c holds at least one example of.</summary>
    public static int ClassesHeld(PartitionSet p, ISimulationDataset data, int c) => PartitionReport.LabelCounts(p, data, c).Count(n => n > 0);

    /// <summary>The same split twice from one seed.</summary>
    public static void SameForSeed(IPartitioner partitioner, ISimulationDataset data, int clients)
    {
        var a = partitioner.Split(data, clients, new Random(5));
        var b = partitioner.Split(data, clients, new Random(5));
        for (int c = 0; c < clients; c++) Assert.True(a.Of(c).Span.SequenceEqual(b.Of(c).Span), $"client {c} differs between two splits with one seed");
    }
}
