using System.Globalization;

namespace Cohort.Learning.Data;

/// <summary>
/// Turns a node's table into train and test examples, in FLamby's order of operations: binarise the
/// label, drop incomplete rows (or keep them for imputation), split per node, then one-hot encode,
/// impute and standardise with statistics of the node's own training split only, so nothing about the
/// test rows leaks into training. Features are the numeric columns in file order, then each
/// categorical column's one-hot block in file order (pandas' get_dummies layout).
/// </summary>
internal static class TabularPreprocessor
{
    /// <summary>Added to the standard deviation so constant columns do not divide by zero (FLamby's 1e-9).</summary>
    public const double StdEpsilon = 1e-9;

    /// <summary>Reads <paramref name="path"/> and preprocesses it.</summary>
    public static TabularSplit LoadFile(string path, TabularReadOptions read, TabularPreprocessorOptions options)
    {
        var table = TabularReader.ReadFile(path, ReadOptionsFor(read, options));
        return Process(table, options);
    }

    /// <summary>The reader options that keep categorical and label columns as text and skip dropped columns.</summary>
    public static TabularReadOptions ReadOptionsFor(TabularReadOptions read, TabularPreprocessorOptions options) => read with
    {
        TextColumns = options.TextColumns,
        SkipColumns = new HashSet<string>(options.Drop, StringComparer.Ordinal),
        InferTextColumns = read.InferTextColumns || options.CategoricalAuto,
    };

    /// <summary>
    /// The options with every inferred categorical column declared: for <c>categorical: auto</c> each
    /// text column but the label, and each column named for inference, gets the distinct values of
    /// <paramref name="table"/> as its categories (numbers in numeric order, then text in ordinal order).
    /// Inferred from one site's rows, categories can differ between sites; declare them where they must agree.
    /// </summary>
    public static TabularPreprocessorOptions ResolveCategories(TabularTable table, TabularPreprocessorOptions options)
    {
        if (!options.CategoricalAuto && options.InferCategories.Count == 0) return options;
        var categorical = new Dictionary<string, IReadOnlyList<string>>(options.Categorical, StringComparer.Ordinal);
        var infer = new List<string>(options.InferCategories);
        if (options.CategoricalAuto)
            infer.AddRange(table.Columns.Where(c => !c.IsNumeric && c.Name != options.Label && !categorical.ContainsKey(c.Name)).Select(c => c.Name));
        foreach (var name in infer.Distinct())
        {
            if (name == options.Label) throw new TabularDataException(table.Source, 0, $"label column '{name}' cannot also be categorical");
            var column = table[name];
            var numbers = new SortedSet<double>();
            var texts = new SortedSet<string>(StringComparer.Ordinal);
            for (int r = 0; r < column.Length; r++)
            {
                if (column.IsMissing(r)) continue;
                if (column.Numbers is { } n) numbers.Add(n[r]);
                else if (double.TryParse(column.Texts![r], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v)) numbers.Add(v);
                else texts.Add(column.Texts![r]!);
            }
            var values = numbers.Select(v => v.ToString("R", CultureInfo.InvariantCulture)).Concat(texts).ToArray();
            if (values.Length == 0) throw new TabularDataException(table.Source, 0, $"categorical column '{name}' has no values to infer categories from");
            categorical[name] = values;
        }
        return options with { Categorical = categorical, CategoricalAuto = false, InferCategories = [] };
    }

    /// <summary>Preprocesses a table already read.</summary>
    public static TabularSplit Process(TabularTable table, TabularPreprocessorOptions options)
    {
        options = ResolveCategories(table, options);
        string source = table.Source;
        var label = table[options.Label];
        if (options.Categorical.ContainsKey(options.Label))
            throw new TabularDataException(source, 0, $"label column '{options.Label}' cannot also be categorical");

        // Feature columns in file order: numeric ones first, then categorical blocks (get_dummies layout).
        var numeric = new List<TabularColumn>();
        var categorical = new List<(TabularColumn Column, CategoryEncoder Encoder)>();
        foreach (var c in table.Columns)
        {
            if (c.Name == options.Label) continue;
            if (options.Categorical.TryGetValue(c.Name, out var categories))
                categorical.Add((c, new CategoryEncoder(c.Name, categories, options.DropFirst)));
            else if (c.IsNumeric)
                numeric.Add(c);
            else
                throw new TabularDataException(source, 0, $"column '{c.Name}' holds text but is not declared categorical");
        }
        foreach (var name in options.Categorical.Keys)
            _ = table[name];

        var featureNames = new List<string>();
        foreach (var c in numeric) featureNames.Add(c.Name);
        foreach (var (_, enc) in categorical) featureNames.AddRange(enc.FeatureNames);
        int d = featureNames.Count;
        if (d == 0) throw new TabularDataException(source, 0, "no feature columns remain after dropping the label and dropped columns");

        // Rows kept: a label is always needed; with Drop every used column must be present.
        var rows = new List<int>(table.RowCount);
        for (int r = 0; r < table.RowCount; r++)
        {
            if (label.IsMissing(r)) continue;
            if (options.Missing == MissingValues.Drop && HasMissingFeature(r, numeric, categorical)) continue;
            rows.Add(r);
        }
        int n = rows.Count;
        if (n < 2) throw new TabularDataException(source, 0, $"only {n} usable row(s) after removing missing values; at least 2 are needed to split");

        var classes = new int[n];
        for (int i = 0; i < n; i++)
        {
            int r = rows[i];
            string value = label.Texts is { } t ? t[r]! : label.Numbers![r].ToString("R", CultureInfo.InvariantCulture);
            classes[i] = options.Positive.IsPositive(value, source, table.Lines[r]) ? 1 : 0;
        }

        var split = TrainTestSplit.Create(classes, options.TrainFraction, options.SplitSeed, options.Stratify);
        if (split.Train.Length == 0)
            throw new TabularDataException(source, 0, $"{n} usable rows leave no training rows at train fraction {options.TrainFraction}");

        // Raw features of all kept rows (NaN = missing numeric value), in double for exact statistics.
        var raw = new double[n * d];
        for (int i = 0; i < n; i++)
        {
            int r = rows[i];
            var dst = raw.AsSpan(i * d, d);
            for (int j = 0; j < numeric.Count; j++) dst[j] = numeric[j].Numbers![r];
            int at = numeric.Count;
            foreach (var (column, enc) in categorical)
            {
                enc.Encode(column, r, dst.Slice(at, enc.Width), source, table.Lines[r]);
                at += enc.Width;
            }
        }

        if (options.Missing == MissingValues.Mean)
        {
            var means = ColumnMeans(raw, d, split.Train, skipMissing: true);
            for (int i = 0; i < n; i++)
            {
                var row = raw.AsSpan(i * d, d);
                for (int j = 0; j < d; j++)
                    if (double.IsNaN(row[j])) row[j] = means[j];
            }
        }

        if (options.Standardize)
        {
            var mean = ColumnMeans(raw, d, split.Train, skipMissing: false);
            var std = ColumnStd(raw, d, split.Train, mean);
            for (int i = 0; i < n; i++)
            {
                var row = raw.AsSpan(i * d, d);
                for (int j = 0; j < d; j++) row[j] = (row[j] - mean[j]) / (std[j] + StdEpsilon);
            }
        }

        return new TabularSplit(Gather(raw, classes, d, split.Train, featureNames), Gather(raw, classes, d, split.Test, featureNames), split.Stratified);
    }

    private static bool HasMissingFeature(int row, List<TabularColumn> numeric, List<(TabularColumn Column, CategoryEncoder Encoder)> categorical)
    {
        foreach (var c in numeric) if (c.IsMissing(row)) return true;
        foreach (var (c, _) in categorical) if (c.IsMissing(row)) return true;
        return false;
    }

    private static double[] ColumnMeans(double[] raw, int d, int[] rows, bool skipMissing)
    {
        var sum = new double[d];
        var count = new int[d];
        foreach (int i in rows)
        {
            var row = raw.AsSpan(i * d, d);
            for (int j = 0; j < d; j++)
            {
                if (skipMissing && double.IsNaN(row[j])) continue;
                sum[j] += row[j];
                count[j]++;
            }
        }
        // A column with no training value at all imputes as 0 rather than NaN.
        for (int j = 0; j < d; j++) sum[j] = count[j] > 0 ? sum[j] / count[j] : 0;
        return sum;
    }

    // Sample standard deviation (ddof 1) as torch.std computes it in FLamby; 0 for a single row.
    private static double[] ColumnStd(double[] raw, int d, int[] rows, double[] mean)
    {
        var ss = new double[d];
        foreach (int i in rows)
        {
            var row = raw.AsSpan(i * d, d);
            for (int j = 0; j < d; j++)
            {
                double e = row[j] - mean[j];
                ss[j] += e * e;
            }
        }
        for (int j = 0; j < d; j++) ss[j] = rows.Length > 1 ? Math.Sqrt(ss[j] / (rows.Length - 1)) : 0;
        return ss;
    }

    private static TabularDataset Gather(double[] raw, int[] classes, int d, int[] rows, IReadOnlyList<string> names)
    {
        var x = new float[rows.Length * d];
        var y = new float[rows.Length];
        for (int k = 0; k < rows.Length; k++)
        {
            int i = rows[k];
            var src = raw.AsSpan(i * d, d);
            var dst = x.AsSpan(k * d, d);
            for (int j = 0; j < d; j++) dst[j] = (float)src[j];
            y[k] = classes[i];
        }
        return new TabularDataset(x, y, names);
    }

    // One-hot encoder for one categorical column with declared categories; numbers match numerically ("1" = "1.0").
    private sealed class CategoryEncoder
    {
        private readonly string _column;
        private readonly IReadOnlyList<string> _categories;
        private readonly double[] _numbers;
        private readonly int _first;
        private readonly Dictionary<string, int> _cache = new(StringComparer.Ordinal);

        public CategoryEncoder(string column, IReadOnlyList<string> categories, bool dropFirst)
        {
            if (categories.Count == 0) throw new ArgumentException($"categorical column '{column}' declares no categories");
            _column = column;
            _categories = categories;
            _numbers = new double[categories.Count];
            for (int i = 0; i < categories.Count; i++)
                _numbers[i] = double.TryParse(categories[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN;
            _first = dropFirst ? 1 : 0;
            FeatureNames = categories.Skip(_first).Select(c => $"{column}={c}").ToArray();
        }

        public IReadOnlyList<string> FeatureNames { get; }

        public int Width => FeatureNames.Count;

        public void Encode(TabularColumn column, int row, Span<double> dst, string source, int line)
        {
            dst.Clear();
            if (column.IsMissing(row)) return; // only reached with mean imputation: an unknown category is all zeros
            int index = column.Numbers is { } nums ? IndexOfNumber(nums[row], source, line) : IndexOf(column.Texts![row]!, source, line);
            if (index >= _first) dst[index - _first] = 1;
        }

        private int IndexOf(string value, string source, int line)
        {
            if (_cache.TryGetValue(value, out int i)) return i;
            i = -1;
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) i = Array.IndexOf(_numbers, v);
            if (i < 0)
            {
                for (int k = 0; k < _categories.Count; k++)
                    if (string.Equals(_categories[k], value, StringComparison.Ordinal)) { i = k; break; }
            }
            if (i < 0) throw Unknown(value, source, line);
            _cache[value] = i;
            return i;
        }

        private int IndexOfNumber(double v, string source, int line)
        {
            int i = Array.IndexOf(_numbers, v);
            return i >= 0 ? i : throw Unknown(v.ToString("R", CultureInfo.InvariantCulture), source, line);
        }

        private TabularDataException Unknown(string value, string source, int line) =>
            new(source, line, $"column '{_column}': '{value}' is not one of the declared categories {string.Join(", ", _categories)}");
    }
}
