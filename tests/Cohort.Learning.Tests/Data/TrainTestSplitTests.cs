using Cohort.Learning.Data;

namespace Cohort.Learning.Tests.Data;

public sealed class TrainTestSplitTests
{
    private static int[] Classes(int negatives, int positives) =>
        [.. Enumerable.Repeat(0, negatives), .. Enumerable.Repeat(1, positives)];

    [Theory]
    [InlineData(303, 199, 104)]
    [InlineData(261, 172, 89)]
    [InlineData(46, 30, 16)]
    [InlineData(130, 85, 45)]
    public void Sizes_follow_scikit_learn_floor_train_and_ceil_test(int n, int train, int test)
    {
        var s = TrainTestSplit.Create(Classes(n / 2, n - n / 2), 0.66, 43, stratify: true);

        Assert.Equal(train, s.Train.Length);
        Assert.Equal(test, s.Test.Length);
    }

    [Fact]
    public void Train_and_test_are_disjoint_and_cover_every_row()
    {
        var s = TrainTestSplit.Create(Classes(40, 60), 0.66, 43, stratify: true);

        Assert.Empty(s.Train.Intersect(s.Test));
        Assert.Equal(Enumerable.Range(0, 100), s.Train.Concat(s.Test).Order());
    }

    [Fact]
    public void Stratified_split_keeps_class_proportions()
    {
        var y = Classes(40, 60);
        var s = TrainTestSplit.Create(y, 0.66, 43, stratify: true);

        Assert.True(s.Stratified);
        Assert.Equal(26, s.Train.Count(i => y[i] == 0)); // approximate mode of 40/100 · 66 = 26.4
        Assert.Equal(14, s.Test.Count(i => y[i] == 0));
    }

    [Fact]
    public void A_class_with_two_rows_or_fewer_falls_back_to_a_plain_shuffled_split()
    {
        var s = TrainTestSplit.Create(Classes(1, 45), 0.66, 43, stratify: true);

        Assert.False(s.Stratified);
        Assert.Equal(30, s.Train.Length);
    }

    [Fact]
    public void The_same_seed_gives_the_same_split_and_another_seed_another()
    {
        var y = Classes(50, 50);
        var a = TrainTestSplit.Create(y, 0.66, 43, true);
        var b = TrainTestSplit.Create(y, 0.66, 43, true);
        var c = TrainTestSplit.Create(y, 0.66, 44, true);

        Assert.Equal(a.Train, b.Train);
        Assert.NotEqual(a.Train.Order(), c.Train.Order());
    }

    [Fact]
    public void Plain_split_takes_the_test_rows_from_the_front_of_numpys_permutation()
    {
        var s = TrainTestSplit.Create(Classes(0, 10), 0.7, 0, stratify: false);

        // numpy.random.RandomState(0).permutation(10) = [2, 8, 4, 9, 1, 6, 7, 3, 0, 5]; test = first ceil(0.3·10).
        Assert.Equal([2, 8, 4], s.Test);
        Assert.Equal([9, 1, 6, 7, 3, 0, 5], s.Train);
    }
}
