using System.Collections.Concurrent;
using Cohort.Learning.Data.Idx;

namespace Cohort.Learning.Data.Mnist;

/// <summary>
/// MNIST's training and test sets, read from a folder holding the four canonical IDX files (gzipped
/// or not). <see cref="Shared"/> keeps one copy per folder for a whole process, so thousands of
/// virtual clients cost no more memory than one.
/// </summary>
internal sealed class MnistData
{
    /// <summary>The four files, by their canonical names (a ".gz" suffix is tried first).</summary>
    public static readonly string[] FileNames =
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

    private static readonly ConcurrentDictionary<string, Lazy<MnistData>> Cache = new(StringComparer.Ordinal);

    private MnistData(string folder, LabeledImages train, LabeledImages test)
    {
        Folder = folder;
        Train = train;
        Test = test;
    }

    /// <summary>The folder the files came from.</summary>
    public string Folder { get; }

    /// <summary>The 60,000 training images.</summary>
    public LabeledImages Train { get; }

    /// <summary>The 10,000 test images.</summary>
    public LabeledImages Test { get; }

    /// <summary>
    /// The same images with the training set in both roles, so a validation split (held-out training
    /// indices) can be scored through the test-set code path without reading a single test image.
    /// </summary>
    public MnistData WithTrainingImagesAsTestSet() => new(Folder, Train, Train);

    /// <summary>
    /// One process-wide copy for <paramref name="folder"/> (by full path), read on first use. A failed
    /// read is not cached, so a fixed folder can be retried.
    /// </summary>
    public static MnistData Shared(string folder)
    {
        string key = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        var lazy = Cache.GetOrAdd(key, k => new Lazy<MnistData>(() => Load(k), LazyThreadSafetyMode.ExecutionAndPublication));
        try
        {
            return lazy.Value;
        }
        catch
        {
            Cache.TryRemove(new KeyValuePair<string, Lazy<MnistData>>(key, lazy));
            throw;
        }
    }

    /// <summary>Reads the four files from <paramref name="folder"/>; throws <see cref="IdxFormatException"/> naming the file at fault.</summary>
    public static MnistData Load(string folder)
    {
        if (!Directory.Exists(folder))
            throw new IdxFormatException(folder, $"MNIST folder not found (expected it to hold {string.Join(", ", FileNames.Select(f => f + ".gz"))})");
        var train = ReadSet(folder, FileNames[0], FileNames[1]);
        var test = ReadSet(folder, FileNames[2], FileNames[3]);
        if (train.Height != test.Height || train.Width != test.Width)
            throw new IdxFormatException(folder, $"training images are {train.Height}×{train.Width} but test images are {test.Height}×{test.Width}");
        return new MnistData(folder, train, test);
    }

    /// <summary>Reads one image file and its label file into a set of 10 classes.</summary>
    public static LabeledImages ReadSet(string folder, string imagesName, string labelsName)
    {
        string imagesPath = Locate(folder, imagesName);
        string labelsPath = Locate(folder, labelsName);
        var images = IdxReader.Read(imagesPath, 3);
        var labels = IdxReader.Read(labelsPath, 1);
        if (images.Dimensions[0] != labels.Dimensions[0])
            throw new IdxFormatException(labelsPath, $"holds {labels.Dimensions[0]} labels but {Path.GetFileName(imagesPath)} holds {images.Dimensions[0]} images");
        if (images.Dimensions[1] == 0 || images.Dimensions[2] == 0)
            throw new IdxFormatException(imagesPath, $"images of {images.Dimensions[1]}×{images.Dimensions[2]} pixels");
        const int classes = 10;
        var values = labels.Values;
        for (int i = 0; i < values.Length; i++)
            if (values[i] >= classes)
                throw new IdxFormatException(labelsPath, $"label {i} is {values[i]}; digit labels are 0 to 9", "holds a label outside 0 to 9 (which one stays in the site's log)");
        return new LabeledImages(images.Values, values, images.Dimensions[1], images.Dimensions[2], classes);
    }

    private static string Locate(string folder, string name)
    {
        string gz = Path.Combine(folder, name + ".gz");
        if (File.Exists(gz)) return gz;
        string plain = Path.Combine(folder, name);
        if (File.Exists(plain)) return plain;
        throw new IdxFormatException(gz, $"MNIST file missing (looked for {name}.gz and {name} in {folder})", $"MNIST file missing (looked for {name}.gz and {name} in the site's MNIST folder)");
    }
}
