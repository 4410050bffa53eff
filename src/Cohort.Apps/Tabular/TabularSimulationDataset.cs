using System.Globalization;
using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps.Tabular;

/// <summary>
/// The tabular app's data for a simulation: one or more files (or a synthetic table) read once. How it
/// is preprocessed depends on the grouping asked for: grouped naturally (by file or column), each
/// group is preprocessed and split on its own, as each site of a real federation would; otherwise the
/// whole table is, once. Training rows are shared out among clients; the held-out rows form the
/// central test set. Data keys: <c>path</c> or <c>files</c>, or <c>synthetic.rows</c>,
/// <c>synthetic.features</c> (20), <c>synthetic.noise</c> (0.5).
/// </summary>
internal sealed class TabularSimulationDataset : ISimulationDataset
{
    private readonly object _gate = new();
    private readonly IReadOnlyList<(string Name, TabularTable Table)> _sources;
    private TabularDataset? _train;
    private TabularDataset? _test;
    private int[] _labels = [];
    private string? _groupedBy;
    private DataGroups? _groups;
    private TabularDataset[] _groupTests = [];
    private TabularTable[] _groupTables = [];
    private (int Group, int Row)[] _trainSources = [];

    private TabularDataset Train => _train ?? throw new InvalidOperationException("not prepared");

    /// <summary>Creates the data set over tables already read (one per file).</summary>
    public TabularSimulationDataset(TabularSettings settings, IReadOnlyList<(string Name, TabularTable Table)> sources, string description)
    {
        Settings = settings;
        _sources = sources;
        Description = description;
    }

    /// <summary>The app settings the data set was read with.</summary>
    public TabularSettings Settings { get; }

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public int Count => Prepared().Count;

    /// <inheritdoc />
    public int ClassCount => 2;

    /// <inheritdoc />
    public ReadOnlySpan<int> Labels
    {
        get
        {
            Prepared();
            return _labels;
        }
    }

    /// <summary>The training rows shared out among the clients.</summary>
    public TabularDataset TrainRows => Prepared();

    /// <summary>The held-out rows (central evaluation).</summary>
    public TabularDataset TestRows
    {
        get
        {
            Prepared();
            return _test!;
        }
    }

    /// <summary>Loads the data named by a simulation's <c>data</c> section.</summary>
    public static TabularSimulationDataset Load(TabularSettings settings, SimulationDataContext context)
    {
        var data = context.Data;
        var read = TabularPreprocessor.ReadOptionsFor(settings.Read, settings.Preprocess);
        var sources = new List<(string, TabularTable)>();
        if (data.TryGetValue("synthetic.rows", out _))
        {
            long rows = Positive(data, "synthetic.rows", 0);
            long features = Positive(data, "synthetic.features", 20);
            double noise = data.TryGetValue("synthetic.noise", out var nv) && nv.IsNumber ? nv.AsDouble() : 0.5;
            foreach (var key in data.Keys)
            {
                if (key is not ("synthetic.rows" or "synthetic.features" or "synthetic.noise"))
                    throw new AppConfigurationException($"simulation.data '{key}' is not known with synthetic data (known: synthetic.rows, synthetic.features, synthetic.noise)");
            }
            sources.Add(("synthetic", Synthetic((int)rows, (int)features, noise, settings.Preprocess.Label, context.Seed)));
            return new TabularSimulationDataset(settings, sources, $"synthetic table: {rows:N0} rows, {features} features");
        }
        IReadOnlyList<string> files;
        if (data.TryGetValue("files", out var list)) files = list.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        else if (data.TryGetValue("path", out var path)) files = [path.ToString()];
        else throw new AppConfigurationException("simulation.data is missing: give path (one CSV file), files (a list; natural partitioner by file) or synthetic.rows");
        foreach (var key in data.Keys)
        {
            if (key is not ("path" or "files"))
                throw new AppConfigurationException($"simulation.data '{key}' is not known (known: path, files, synthetic.rows, synthetic.features, synthetic.noise)");
        }
        foreach (var f in files)
        {
            string full = context.Resolve(f);
            if (!File.Exists(full)) throw new AppConfigurationException($"simulation.data: file '{full}' not found");
            sources.Add((Path.GetFileNameWithoutExtension(full), TabularReader.ReadFile(full, read)));
        }
        int total = sources.Sum(s => ((TabularTable)s.Item2).RowCount);
        return new TabularSimulationDataset(settings, sources, $"{string.Join(", ", files.Select(Path.GetFileName))}: {total:N0} rows");
    }

    /// <inheritdoc />
    public DataGroups GroupsBy(string by)
    {
        lock (_gate)
        {
            if (_train is not null && _groupedBy != by)
                throw new InvalidOperationException("the data set was already prepared without this grouping");
            if (_groups is not null) return _groups;
            var groups = new List<(string Name, TabularTable Table)>();
            if (by == "file")
            {
                groups.AddRange(_sources);
            }
            else
            {
                foreach (var (_, table) in _sources)
                {
                    if (table.IndexOf(by) < 0)
                        throw new ArgumentException($"no column '{by}' (columns: {string.Join(", ", table.Columns.Select(c => c.Name))}; or \"file\")");
                }
                groups.AddRange(SplitByColumn(Concat(_sources.Select(s => s.Table).ToArray()), by));
            }
            var groupOf = Prepare(groups.Select(g => g.Table).ToArray());
            _groupedBy = by;
            _groups = new DataGroups(groups.Select(g => g.Name).ToArray(), groupOf);
            return _groups;
        }
    }

    /// <inheritdoc />
    public Task<EvaluateResult?> EvaluateCentralAsync(ParameterSet global, Config config, CancellationToken ct)
    {
        var test = TestRows;
        if (test.Count == 0) return Task.FromResult<EvaluateResult?>(null);
        return Task.Run<EvaluateResult?>(() =>
        {
            var model = Settings.CreateModel(test.FeatureCount);
            model.SetParameters(global);
            // The server holds these rows itself: its figures are exact, no histograms needed. It has no
            // validation rows, so a threshold chosen per site (max_f1, recall:R) is 0.5 here.
            return TabularEvaluation.Evaluate(model, test, Settings.Imbalance.Threshold.Fixed ?? BinaryMetrics.Threshold, histograms: false);
        }, ct);
    }

    /// <summary>
    /// A client's raw rows, for settings that need the statistics step, where a virtual client must
    /// preprocess its own rows as a node does: a client of a natural grouping gets its group's whole
    /// table (as that site's node would read its file), any other client the rows of its partition.
    /// </summary>
    public TabularTable ClientTable(DataPartition partition)
    {
        Prepared();
        if (_groups is not null && partition.Clients == _groupTables.Length) return _groupTables[partition.Client];
        var parts = new List<TabularTable>();
        foreach (var group in partition.Indices.ToArray().Select(i => _trainSources[i]).GroupBy(s => s.Group).OrderBy(g => g.Key))
            parts.Add(_groupTables[group.Key].Subset(group.Select(s => s.Row).ToArray()));
        return parts.Count == 0 ? _groupTables[0].Subset([]) : Concat([.. parts]);
    }

    /// <summary>
    /// The central test set (every group's held-out rows) preprocessed with <paramref name="options"/>,
    /// each group as its site would preprocess it: for central evaluation once the federated statistics exist.
    /// </summary>
    public TabularDataset HeldOutRows(TabularPreprocessorOptions options)
    {
        Prepared();
        return TabularDataset.Concat([.. _groupTables.Select(t => TabularPreprocessor.Process(t, options).Test)]);
    }

    /// <summary>
    /// A client's rows: its partition shuffled by a seed of its own and cut by <c>train_fraction</c>
    /// into local training and test rows (copied for the client's task only; released with the client).
    /// A client of a natural grouping keeps all its group's training rows and tests on the group's held-out rows.
    /// </summary>
    public TabularSplit ClientSplit(DataPartition partition)
    {
        var train = TrainRows;
        // Grouped naturally, a client is a site: its training rows and its own held-out rows, as deployed.
        if (_groups is not null && partition.Clients == _groupTests.Length)
            return new TabularSplit(train.Select(partition.Indices.Span), _groupTests[partition.Client], true);
        var indices = partition.Indices.ToArray();
        new Random(unchecked((int)Settings.Preprocess.SplitSeed * 31 + partition.Client)).Shuffle(indices);
        int n = indices.Length;
        int trainCount = n <= 1 ? n : Math.Clamp((int)Math.Round(n * Settings.Preprocess.TrainFraction), 1, n - 1);
        return new TabularSplit(train.Select(indices.AsSpan(0, trainCount)), train.Select(indices.AsSpan(trainCount)), false);
    }

    private TabularDataset Prepared()
    {
        if (_train is not null) return _train;
        lock (_gate)
        {
            if (_train is null) Prepare([Concat(_sources.Select(s => s.Table).ToArray())]);
            return _train!;
        }
    }

    private int[] Prepare(TabularTable[] groups)
    {
        var trains = new List<TabularDataset>();
        var tests = new List<TabularDataset>();
        // Inferred categories come from all the data at once, so every group encodes them alike.
        var options = TabularPreprocessor.ResolveCategories(Concat(groups), Settings.Preprocess);
        // Before the statistics step there are no global moments: the rows prepared here (for partition
        // sizes and labels; with global standardisation the clients preprocess their own rows) use the groups' own.
        if (options.Statistics is null) options = options with { GlobalStandardize = false };
        var sources = new List<(int, int)>();
        for (int g = 0; g < groups.Length; g++)
        {
            var t = groups[g];
            var split = TabularPreprocessor.Process(t, options);
            trains.Add(split.Train);
            tests.Add(split.Test);
            // Which raw row each example came from, so a client can preprocess its own rows as a node would.
            var (trainRows, _) = TabularPreprocessor.SplitRows(t, options);
            sources.AddRange(trainRows.Select(r => (g, r)));
        }
        _groupTables = groups;
        _trainSources = [.. sources];

        var train = TabularDataset.Concat(trains);
        var labels = new int[train.Count];
        for (int i = 0; i < labels.Length; i++) labels[i] = train.Labels[i] > 0.5f ? 1 : 0;
        var groupOf = new int[train.Count];
        int at = 0;
        for (int g = 0; g < trains.Count; g++)
        {
            groupOf.AsSpan(at, trains[g].Count).Fill(g);
            at += trains[g].Count;
        }
        _labels = labels;
        _groupTests = [.. tests];
        _test = TabularDataset.Concat(tests);
        _train = train;
        return groupOf;
    }

    private static TabularTable Concat(TabularTable[] tables)
    {
        if (tables.Length == 1) return tables[0];
        var first = tables[0];
        var columns = new List<TabularColumn>();
        foreach (var c in first.Columns)
        {
            if (tables.Any(t => t[c.Name].IsNumeric != c.IsNumeric)) throw Mixed(tables, c.Name);
            if (c.IsNumeric) columns.Add(TabularColumn.Numeric(c.Name, tables.SelectMany(t => t[c.Name].Numbers!).ToArray()));
            else columns.Add(TabularColumn.Text(c.Name, tables.SelectMany(t => t[c.Name].Texts!).ToArray()));
        }
        return new TabularTable(string.Join("+", tables.Select(t => t.Source)), columns, tables.SelectMany(t => t.Lines).ToArray());
    }

    // The blame goes to the first file holding text, at its first value that is not a number: the data is the user's own
    // here (a simulation), so the line and value are shown, as a site is shown them in its log.
    private static TabularDataException Mixed(TabularTable[] tables, string column)
    {
        var text = tables.First(t => !t[column].IsNumeric);
        var numbers = tables.First(t => t[column].IsNumeric);
        var values = text[column].Texts!;
        int row = Array.FindIndex(values, v => v is not null && !TabularReader.IsNumber(v, out _));
        if (row < 0) row = Array.FindIndex(values, v => v is not null);
        string where = $"column '{column}' holds text here but numbers in {Path.GetFileName(numbers.Source)}";
        return row < 0
            ? new TabularDataException(text.Source, 0, where)
            : new TabularDataException(text.Source, text.Lines[row], $"{where} (value '{values[row]}')", where);
    }

    private static IEnumerable<(string, TabularTable)> SplitByColumn(TabularTable table, string by)
    {
        var key = table[by];
        var rowsOf = new SortedDictionary<string, List<int>>(StringComparer.Ordinal);
        for (int r = 0; r < table.RowCount; r++)
        {
            string k = key.Numbers is { } n ? n[r].ToString("R", CultureInfo.InvariantCulture) : key.Texts![r] ?? "";
            if (!rowsOf.TryGetValue(k, out var list)) rowsOf[k] = list = [];
            list.Add(r);
        }
        foreach (var (name, rows) in rowsOf)
        {
            var columns = table.Columns.Select(c => c.Numbers is { } nums
                ? TabularColumn.Numeric(c.Name, rows.Select(r => nums[r]).ToArray())
                : TabularColumn.Text(c.Name, rows.Select(r => c.Texts![r]).ToArray())).ToList();
            yield return ($"{by}={name}", new TabularTable(table.Source, columns, rows.Select(r => table.Lines[r]).ToArray()));
        }
    }

    private static TabularTable Synthetic(int rows, int features, double noise, string label, long seed)
    {
        // A random linear rule with Gaussian noise: logistic regression can learn it, never perfectly.
        var random = new Random(unchecked((int)seed * 7 + 1));
        var weights = new double[features];
        for (int j = 0; j < features; j++) weights[j] = Gaussian(random);
        var columns = new double[features][];
        for (int j = 0; j < features; j++) columns[j] = new double[rows];
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double z = 0;
            for (int j = 0; j < features; j++)
            {
                double v = Gaussian(random);
                columns[j][r] = v;
                z += weights[j] * v;
            }
            y[r] = z / Math.Sqrt(features) + noise * Gaussian(random) > 0 ? 1 : 0;
        }
        var cols = new List<TabularColumn>();
        for (int j = 0; j < features; j++) cols.Add(TabularColumn.Numeric($"x{j + 1}", columns[j]));
        cols.Add(TabularColumn.Numeric(label, y));
        var lines = new int[rows];
        for (int r = 0; r < rows; r++) lines[r] = r + 2;
        return new TabularTable("synthetic", cols, lines);
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static long Positive(Config data, string key, long fallback)
    {
        if (!data.TryGetValue(key, out var v)) return fallback;
        if (v.Kind != ScalarKind.Int || v.AsInt() < 1 || v.AsInt() > int.MaxValue)
            throw new AppConfigurationException($"simulation.data '{key}' is '{v}'; expected a positive integer");
        return v.AsInt();
    }
}
