namespace Cohort.Learning.Data.Mnist;

/// <summary>
/// Grey images with integer class labels, kept as the file's bytes (one byte per pixel, a quarter of
/// float32's memory) so that many virtual clients can share one copy; batches are converted to
/// floats on the fly by <see cref="PixelScaling"/>.
/// </summary>
internal sealed class LabeledImages
{
    /// <summary>Wraps pixels [count, height, width] and labels [count]; throws when the sizes disagree.</summary>
    public LabeledImages(byte[] pixels, byte[] labels, int height, int width, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        if (pixels.LongLength != (long)labels.Length * height * width)
            throw new ArgumentException($"{pixels.LongLength} pixels are not {labels.Length} images of {height}×{width}");
        Pixels = pixels;
        Labels = labels;
        Height = height;
        Width = width;
        Classes = classes;
    }

    /// <summary>Row-major pixels, image after image.</summary>
    public byte[] Pixels { get; }

    /// <summary>Class of each image, 0 to <see cref="Classes"/> − 1.</summary>
    public byte[] Labels { get; }

    /// <summary>Image height in pixels.</summary>
    public int Height { get; }

    /// <summary>Image width in pixels.</summary>
    public int Width { get; }

    /// <summary>Number of classes.</summary>
    public int Classes { get; }

    /// <summary>Number of images.</summary>
    public int Count => Labels.Length;

    /// <summary>Pixels per image.</summary>
    public int PixelsPerImage => Height * Width;

    /// <summary>The pixels of image <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Image(int index) => Pixels.AsSpan(index * PixelsPerImage, PixelsPerImage);

    /// <summary>
    /// Writes the images <paramref name="indices"/> as floats into <paramref name="x"/> ([n, height·width])
    /// and their labels into <paramref name="labels"/>.
    /// </summary>
    public void CopyBatch(ReadOnlySpan<int> indices, PixelScaling scaling, Span<float> x, Span<int> labels)
    {
        int p = PixelsPerImage;
        if (x.Length < indices.Length * p || labels.Length < indices.Length)
            throw new ArgumentException($"a batch of {indices.Length} images needs {indices.Length * p} floats and {indices.Length} labels");
        for (int i = 0; i < indices.Length; i++)
        {
            int index = indices[i];
            scaling.Convert(Image(index), x.Slice(i * p, p));
            labels[i] = Labels[index];
        }
    }

    /// <summary>How many images of each class the whole set holds.</summary>
    public int[] ClassCounts()
    {
        var counts = new int[Classes];
        foreach (byte label in Labels) counts[label]++;
        return counts;
    }

    /// <summary>How many images of each class the given indices hold.</summary>
    public int[] ClassCounts(ReadOnlySpan<int> indices)
    {
        var counts = new int[Classes];
        foreach (int i in indices) counts[Labels[i]]++;
        return counts;
    }
}
