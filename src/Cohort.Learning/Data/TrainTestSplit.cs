namespace Cohort.Learning.Data;

/// <summary>Row indices of a train/test split.</summary>
/// <param name="Train">Training rows.</param>
/// <param name="Test">Test rows.</param>
/// <param name="Stratified">Whether class proportions were preserved.</param>
internal sealed record TrainTestSplit(int[] Train, int[] Test, bool Stratified)
{
    /// <summary>
    /// FLamby's per-center split: scikit-learn's <c>train_test_split(train_size=f, test_size=1-f,
    /// random_state=seed, stratify=...)</c>, stratified only when asked and every class has more than
    /// two rows (else a plain shuffled split). Sizes: test = ceil((1-f)·n), train = floor(f·n).
    /// The same seed selects the same rows as scikit-learn does.
    /// </summary>
    public static TrainTestSplit Create(ReadOnlySpan<int> classes, double trainFraction, uint seed, bool stratify)
    {
        if (!(trainFraction > 0 && trainFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(trainFraction), trainFraction, "train fraction must lie strictly between 0 and 1");
        int n = classes.Length;
        int nTest = (int)Math.Ceiling((1.0 - trainFraction) * n);
        int nTrain = (int)Math.Floor(trainFraction * n);
        if (nTrain + nTest > n) nTest = n - nTrain;

        var rng = new NumpyRandomState(seed);
        var (labels, counts) = Encode(classes);
        bool canStratify = counts.Length > 1 && Array.TrueForAll(counts, c => c > 2);
        if (!stratify || !canStratify)
        {
            // ShuffleSplit: the first n_test of a permutation are the test rows.
            int[] p = rng.Permutation(n);
            return new TrainTestSplit(p[nTest..(nTest + nTrain)], p[..nTest], false);
        }

        // StratifiedShuffleSplit: allot rows per class by "approximate mode", then draw them per class.
        int[] trainPerClass = ApproximateMode(counts, nTrain, rng);
        var remaining = new int[counts.Length];
        for (int c = 0; c < counts.Length; c++) remaining[c] = counts[c] - trainPerClass[c];
        int[] testPerClass = ApproximateMode(remaining, nTest, rng);

        // Rows of each class in ascending order, as a stable argsort of the class ids gives them.
        var byClass = new List<int>[counts.Length];
        for (int c = 0; c < counts.Length; c++) byClass[c] = new List<int>(counts[c]);
        for (int i = 0; i < n; i++) byClass[labels[i]].Add(i);

        var train = new List<int>(nTrain);
        var test = new List<int>(nTest);
        for (int c = 0; c < counts.Length; c++)
        {
            int[] p = rng.Permutation(counts[c]);
            for (int k = 0; k < trainPerClass[c]; k++) train.Add(byClass[c][p[k]]);
            for (int k = trainPerClass[c]; k < trainPerClass[c] + testPerClass[c]; k++) test.Add(byClass[c][p[k]]);
        }
        int[] trainRows = train.ToArray();
        int[] testRows = test.ToArray();
        rng.Shuffle<int>(trainRows);
        rng.Shuffle<int>(testRows);
        return new TrainTestSplit(trainRows, testRows, true);
    }

    // Maps class values to 0..k-1 in ascending order (numpy.unique's order) and counts them.
    private static (int[] Labels, int[] Counts) Encode(ReadOnlySpan<int> classes)
    {
        var distinct = new SortedSet<int>();
        foreach (int c in classes) distinct.Add(c);
        var id = new Dictionary<int, int>();
        foreach (int c in distinct) id[c] = id.Count;
        var labels = new int[classes.Length];
        var counts = new int[id.Count];
        for (int i = 0; i < classes.Length; i++)
        {
            labels[i] = id[classes[i]];
            counts[labels[i]]++;
        }
        return (labels, counts);
    }

    // scikit-learn's _approximate_mode: floor of the proportional share, remaining draws go to the
    // largest remainders, ties broken by rng.choice (a permutation), consuming the generator as it does.
    private static int[] ApproximateMode(int[] counts, int draws, NumpyRandomState rng)
    {
        long total = 0;
        foreach (int c in counts) total += c;
        var continuous = new double[counts.Length];
        var floored = new int[counts.Length];
        double flooredSum = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            continuous[i] = (double)counts[i] / total * draws;
            floored[i] = (int)Math.Floor(continuous[i]);
            flooredSum += floored[i];
        }
        int need = (int)(draws - flooredSum);
        if (need <= 0) return floored;

        var remainder = new double[counts.Length];
        for (int i = 0; i < counts.Length; i++) remainder[i] = continuous[i] - floored[i];
        var values = remainder.Distinct().OrderByDescending(v => v).ToArray();
        foreach (double value in values)
        {
            var inds = new List<int>();
            for (int i = 0; i < remainder.Length; i++)
                if (remainder[i] == value) inds.Add(i);
            int addNow = Math.Min(inds.Count, need);
            int[] p = rng.Permutation(inds.Count);
            for (int k = 0; k < addNow; k++) floored[inds[p[k]]]++;
            need -= addNow;
            if (need == 0) break;
        }
        return floored;
    }
}
