using Cohort.Learning.Data;

namespace Cohort.Learning.Tests.Data;

public sealed class OversamplingTests
{
    // 20 negatives around (0, 0), 4 positives at the corners of a square around (5, 5).
    private static TabularDataset Imbalanced()
    {
        var x = new List<float>();
        var y = new List<float>();
        var random = new Random(1);
        for (int i = 0; i < 20; i++)
        {
            x.Add((float)random.NextDouble());
            x.Add((float)random.NextDouble());
            y.Add(0);
        }
        foreach (var (a, b) in new[] { (4f, 4f), (6f, 4f), (4f, 6f), (6f, 6f) })
        {
            x.Add(a);
            x.Add(b);
            y.Add(1);
        }
        return new TabularDataset([.. x], [.. y], ["a", "b"]);
    }

    [Fact]
    public void Random_oversampling_copies_minority_rows_until_the_classes_are_even_and_keeps_the_originals()
    {
        var data = Imbalanced();
        var grown = Oversampling.Random(data, seed: 5);

        Assert.Equal(40, grown.Count);
        Assert.Equal(20, grown.PositiveCount);
        Assert.Equal(data.Features, grown.Features.AsSpan(0, data.Features.Length).ToArray());
        for (int i = data.Count; i < grown.Count; i++)
            Assert.Contains((grown.Row(i)[0], grown.Row(i)[1]), new[] { (4f, 4f), (6f, 4f), (4f, 6f), (6f, 6f) });
        Assert.Equal(grown.Features, Oversampling.Random(data, seed: 5).Features);
        Assert.NotEqual(grown.Features, Oversampling.Random(data, seed: 6).Features);
    }

    [Fact]
    public void Smote_points_lie_between_a_minority_row_and_a_minority_neighbour()
    {
        var data = Imbalanced();
        var grown = Oversampling.Smote(data, seed: 5, neighbours: 2);

        Assert.Equal(20, grown.PositiveCount);
        bool anyNew = false;
        for (int i = data.Count; i < grown.Count; i++)
        {
            float a = grown.Row(i)[0], b = grown.Row(i)[1];
            Assert.Equal(1f, grown.Labels[i]);
            // Two nearest neighbours of a corner are the two adjacent corners: the point is on an edge of the square.
            Assert.True(a is 4f or 6f || b is 4f or 6f, $"({a}, {b}) is not on an edge between neighbouring corners");
            Assert.InRange(a, 4f, 6f);
            Assert.InRange(b, 4f, 6f);
            anyNew |= a is not (4f or 6f) || b is not (4f or 6f);
        }
        Assert.True(anyNew, "SMOTE only copied rows");
    }

    [Fact]
    public void Balanced_or_single_class_rows_are_returned_as_they_are()
    {
        var single = new TabularDataset([1, 2, 3], [1, 1, 1], ["a"]);
        Assert.Same(single, Oversampling.Smote(single, 1));
        Assert.Same(single, Oversampling.Random(single, 1));
    }
}
