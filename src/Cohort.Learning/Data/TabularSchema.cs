using Cohort.Apps;

namespace Cohort.Learning.Data;

/// <summary>
/// Infers a tabular file's schema (column names and types) the way <see cref="TabularReader"/> infers
/// text columns for <c>categorical: auto</c>: a column is a number column while every present value is a
/// number by <see cref="TabularReader.IsNumber"/>, text from its first value that is not. Streams the
/// file and keeps no values, so a node can describe a large data set cheaply at start.
/// </summary>
internal static class TabularSchema
{
    /// <summary>Type name of a column whose present values are all numbers (or that has none).</summary>
    public const string Number = "number";

    /// <summary>Type name of a column holding any value that is not a number.</summary>
    public const string Text = "text";

    /// <summary>
    /// The schema of the comma-separated file at <paramref name="path"/>. A first line whose cells are all
    /// numbers or missing is data, not a header (a UCI-style file): its columns are then named column1, column2, ….
    /// Errors name the file and line.
    /// </summary>
    public static DatasetSchema Infer(string path)
    {
        string source = Path.GetFileName(path);
        if (!File.Exists(path)) throw new TabularDataException(path, 0, "file not found");
        using var reader = new StreamReader(path);
        var fields = new List<string>();
        string[]? names = null;
        bool[] text = [];
        int lineNumber = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            TabularReader.SplitLine(line, fields, source, lineNumber);
            if (names is null)
            {
                text = new bool[fields.Count];
                if (fields.All(f => TabularReader.IsMissing(f) || TabularReader.IsNumber(f, out _)))
                {
                    names = Enumerable.Range(1, fields.Count).Select(i => $"column{i}").ToArray();
                }
                else
                {
                    names = [.. fields];
                    continue;
                }
            }
            if (fields.Count != names.Length)
                throw new TabularDataException(source, lineNumber, $"expected {names.Length} fields, found {fields.Count}");
            for (int i = 0; i < fields.Count; i++)
            {
                if (!text[i] && !TabularReader.IsMissing(fields[i]) && !TabularReader.IsNumber(fields[i], out _)) text[i] = true;
            }
        }
        if (names is null) throw new TabularDataException(source, 0, "file is empty");
        var columns = new DatasetColumn[names.Length];
        for (int i = 0; i < names.Length; i++) columns[i] = new DatasetColumn(names[i], text[i] ? Text : Number);
        return new DatasetSchema(columns);
    }
}
