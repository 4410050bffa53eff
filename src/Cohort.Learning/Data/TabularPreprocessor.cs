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
        foreach (var name in CategoricalColumns(table, options))
        {
            if (categorical.ContainsKey(name)) continue;
            if (name == options.Label) throw new TabularDataException(table.Source, 0, $"label column '{name}' cannot also be categorical");
            if (options.Statistics is { } stats)
            {
                // The federation's vocabulary, the same at every site (rare values folded into "(other)").
                categorical[name] = stats.Vocabularies.TryGetValue(name, out var vocabulary)
                    ? vocabulary
                    : throw new TabularDataException(table.Source, 0, $"categorical column '{name}' has no vocabulary in the federated statistics");
                continue;
            }
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

    /// <summary>
    /// The table rows <see cref="Process(TabularTable, TabularPreprocessorOptions)"/> trains and tests on,
    /// in the order of its training and test examples.
    /// </summary>
    public static (int[] Train, int[] Test) SplitRows(TabularTable table, TabularPreprocessorOptions options)
    {
        var categorical = CategoricalColumns(table, options);
        var features = table.Columns.Where(c => c.Name != options.Label && (categorical.Contains(c.Name) || c.IsNumeric)).ToList();
        var (rows, classes) = UsableRows(table, options, features);
        var split = TrainTestSplit.Create(classes, options.TrainFraction, options.SplitSeed, options.Stratify);
        return (split.Train.Select(i => rows[i]).ToArray(), split.Test.Select(i => rows[i]).ToArray());
    }

    /// <summary>
    /// The categorical columns of <paramref name="table"/>: those declared, those named for inference and,
    /// with <c>categorical: auto</c>, every text column but the label.
    /// </summary>
    internal static IReadOnlySet<string> CategoricalColumns(TabularTable table, TabularPreprocessorOptions options)
    {
        var names = new HashSet<string>(options.Categorical.Keys, StringComparer.Ordinal);
        foreach (var name in options.InferCategories)
        {
            if (name == options.Label) throw new TabularDataException(table.Source, 0, $"label column '{name}' cannot also be categorical");
            names.Add(name);
        }
        if (options.CategoricalAuto)
            names.UnionWith(table.Columns.Where(c => !c.IsNumeric && c.Name != options.Label).Select(c => c.Name));
        return names;
    }

    /// <summary>
    /// The rows preprocessing keeps (a label, and with <see cref="MissingValues.Drop"/> every feature
    /// present) and their classes; throws when fewer than two remain.
    /// </summary>
    internal static (List<int> Rows, int[] Classes) UsableRows(TabularTable table, TabularPreprocessorOptions options, IReadOnlyList<TabularColumn> features)
    {
        var label = table[options.Label];
        var rows = new List<int>(table.RowCount);
        for (int r = 0; r < table.RowCount; r++)
        {
            if (label.IsMissing(r)) continue;
            if (options.Missing == MissingValues.Drop && features.Any(c => c.IsMissing(r))) continue;
            rows.Add(r);
        }
        int n = rows.Count;
        if (n < 2) throw new TabularDataException(table.Source, 0, $"only {n} usable row(s) after removing missing values; at least 2 are needed to split");
        var classes = new int[n];
        for (int i = 0; i < n; i++)
        {
            int r = rows[i];
            string value = label.Texts is { } t ? t[r]! : label.Numbers![r].ToString("R", CultureInfo.InvariantCulture);
            classes[i] = options.Positive.IsPositive(value, table.Source, table.Lines[r]) ? 1 : 0;
        }
        return (rows, classes);
    }

    /// <summary>Preprocesses a table already read.</summary>
    public static TabularSplit Process(TabularTable table, TabularPreprocessorOptions options) => Process(table, options, whole: false);

    /// <summary>
    /// Every usable row of a held-out test table (a server's central evaluation file), preprocessed as
    /// a site's rows would be: with the federated statistics under global standardisation, else with
    /// the table's own (it is then standardised as a site of its own would be).
    /// </summary>
    public static TabularDataset ProcessHeldOut(TabularTable table, TabularPreprocessorOptions options) => Process(table, options, whole: true).Train;

    private static TabularSplit Process(TabularTable table, TabularPreprocessorOptions options, bool whole)
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

        var (rows, classes) = UsableRows(table, options, numeric.Concat(categorical.Select(c => c.Column)).ToList());
        int n = rows.Count;

        var split = whole
            ? new TrainTestSplit([.. Enumerable.Range(0, n)], [], false)
            : TrainTestSplit.Create(classes, options.TrainFraction, options.SplitSeed, options.Stratify);
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

        var global = options.GlobalStandardize
            ? options.Statistics ?? throw new InvalidOperationException("global standardisation needs the federated statistics")
            : null;
        if (options.Missing == MissingValues.Mean)
        {
            // Imputed with the mean of the training rows: this site's, or all sites' under global standardisation.
            var means = global is null ? ColumnMeans(raw, d, split.Train, skipMissing: true) : GlobalMoments(global, numeric, categorical).Mean;
            for (int i = 0; i < n; i++)
            {
                var row = raw.AsSpan(i * d, d);
                for (int j = 0; j < d; j++)
                    if (double.IsNaN(row[j])) row[j] = means[j];
            }
        }

        if (options.Standardize)
        {
            var (mean, std) = global is null
                ? (ColumnMeans(raw, d, split.Train, skipMissing: false), null)
                : GlobalMoments(global, numeric, categorical);
            std ??= ColumnStd(raw, d, split.Train, mean);
            for (int i = 0; i < n; i++)
            {
                var row = raw.AsSpan(i * d, d);
                for (int j = 0; j < d; j++) row[j] = (row[j] - mean[j]) / (std[j] + StdEpsilon);
            }
        }

        return new TabularSplit(Gather(raw, classes, d, split.Train, featureNames), Gather(raw, classes, d, split.Test, featureNames), split.Stratified);
    }

    /// <summary>
    /// Each feature's mean and sample standard deviation over all sites' training rows, from the
    /// federated statistics: numeric features from their sums, one-hot features from their categories'
    /// counts (a 0/1 column with k ones in N rows has mean k/N and squared deviations k − k²/N).
    /// </summary>
    private static (double[] Mean, double[] Std) GlobalMoments(FederatedTabularStatistics stats, List<TabularColumn> numeric, List<(TabularColumn Column, CategoryEncoder Encoder)> categorical)
    {
        var mean = new List<double>();
        var std = new List<double>();
        foreach (var c in numeric)
        {
            if (!stats.Numeric.ContainsKey(c.Name)) throw new InvalidDataException($"numeric column '{c.Name}' is not in the federated statistics");
            mean.Add(stats.Mean(c.Name));
            std.Add(stats.Std(c.Name));
        }
        double rows = stats.Rows;
        foreach (var (c, enc) in categorical)
        {
            var vocabulary = stats.Vocabularies.TryGetValue(c.Name, out var v) ? v : null;
            var counts = stats.CategoryCounts.TryGetValue(c.Name, out var k) ? k : null;
            foreach (var category in enc.Categories.Skip(enc.First))
            {
                int at = vocabulary is null ? -1 : IndexOfCategory(vocabulary, category);
                double ones = at >= 0 && counts is not null && at < counts.Count ? counts[at] : 0;
                mean.Add(rows > 0 ? ones / rows : 0);
                std.Add(rows > 1 ? Math.Sqrt(Math.Max(0, ones - ones * ones / rows) / (rows - 1)) : 0);
            }
        }
        return ([.. mean], [.. std]);
    }

    private static int IndexOfCategory(IReadOnlyList<string> vocabulary, string category)
    {
        for (int i = 0; i < vocabulary.Count; i++)
            if (string.Equals(vocabulary[i], category, StringComparison.Ordinal)) return i;
        return -1;
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
        private readonly int _other;
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
            // A federated vocabulary ends with "(other)": rare and unseen values are encoded as it.
            _other = categories.Count > 0 && categories[^1] == FederatedTabularStatistics.OtherCategory ? categories.Count - 1 : -1;
            FeatureNames = categories.Skip(_first).Select(c => $"{column}={c}").ToArray();
        }

        public IReadOnlyList<string> FeatureNames { get; }

        public IReadOnlyList<string> Categories => _categories;

        public int First => _first;

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
            if (i < 0) i = _other >= 0 ? _other : throw Unknown(value, source, line);
            _cache[value] = i;
            return i;
        }

        private int IndexOfNumber(double v, string source, int line)
        {
            int i = Array.IndexOf(_numbers, v);
            return i >= 0 ? i : _other >= 0 ? _other : throw Unknown(v.ToString("R", CultureInfo.InvariantCulture), source, line);
        }

        private TabularDataException Unknown(string value, string source, int line) =>
            new(source, line, $"column '{_column}': '{value}' is not one of the declared categories {string.Join(", ", _categories)}",
                $"column '{_column}': a value is not one of the declared categories {string.Join(", ", _categories)}");
    }
}
