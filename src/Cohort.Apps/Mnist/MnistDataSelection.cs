namespace Cohort.Apps.Mnist;

/// <summary>
/// Which MNIST examples a node uses: <c>data</c> (folder with the four IDX files), <c>digits</c>
/// (keep only these training labels, e.g. [1, 2, 3]; default all), <c>train_examples</c> (the first
/// N kept training images; default all) and <c>test_examples</c> (the first N test images; default
/// all 10,000). Read from app settings, then overridden key by key by node settings.
/// </summary>
/// <param name="Folder">The IDX folder, or null when not given.</param>
/// <param name="Digits">Training labels to keep, or null for all.</param>
/// <param name="TrainExamples">Cap on training images, or null.</param>
/// <param name="TestExamples">Cap on test images, or null.</param>
internal sealed record MnistDataSelection(string? Folder, IReadOnlyList<int>? Digits, int? TrainExamples, int? TestExamples)
{
    /// <summary>No folder, every example.</summary>
    public static MnistDataSelection All { get; } = new(null, null, null, null);

    internal static MnistDataSelection Read(SettingsReader r, MnistDataSelection fallback)
    {
        string? folder = r.Has("data") ? r.RequiredString("data", "the folder holding MNIST's IDX files") : fallback.Folder;
        IReadOnlyList<int>? digits = fallback.Digits;
        if (r.List("digits") is { } items)
        {
            var list = new List<int>();
            foreach (var item in items)
            {
                if (!int.TryParse(item, out int d) || d < 0 || d > 9) throw r.Error("digits", $"has '{item}'; digits are 0 to 9");
                if (list.Contains(d)) throw r.Error("digits", $"repeats {d}");
                list.Add(d);
            }
            if (list.Count == 0) throw r.Error("digits", "is empty; name at least one digit");
            digits = list;
        }
        int? train = r.Has("train_examples") ? (int)r.Int("train_examples", 0, 1, int.MaxValue) : fallback.TrainExamples;
        int? test = r.Has("test_examples") ? (int)r.Int("test_examples", 0, 1, int.MaxValue) : fallback.TestExamples;
        return new MnistDataSelection(folder, digits, train, test);
    }

    /// <summary>The training indices this selection keeps from <paramref name="labels"/>, in file order.</summary>
    public int[] TrainIndices(ReadOnlySpan<byte> labels)
    {
        var keep = new List<int>(labels.Length);
        for (int i = 0; i < labels.Length && (TrainExamples is not { } cap || keep.Count < cap); i++)
            if (Digits is null || Digits.Contains(labels[i])) keep.Add(i);
        return keep.ToArray();
    }

    /// <summary>The test indices: the first <see cref="TestExamples"/> (all when null).</summary>
    public int[] TestIndices(int count)
    {
        int n = Math.Min(count, TestExamples ?? count);
        var indices = new int[n];
        for (int i = 0; i < n; i++) indices[i] = i;
        return indices;
    }
}
