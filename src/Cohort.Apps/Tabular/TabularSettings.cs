using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Learning.Models;
using Cohort.Records;

namespace Cohort.Apps.Tabular;

/// <summary>
/// The tabular app's settings, read from the plan's flattened <c>app.settings</c>: how to read the
/// node's file, how to preprocess it, and which model to train.
/// </summary>
/// <param name="Read">File format and column names.</param>
/// <param name="Preprocess">Label rule, encoding, missing values, standardisation and split.</param>
/// <param name="Model">"logistic" or "mlp".</param>
/// <param name="Hidden">Hidden layer sizes of the MLP; empty for logistic regression.</param>
internal sealed record TabularSettings(TabularReadOptions Read, TabularPreprocessorOptions Preprocess, string Model, IReadOnlyList<int> Hidden)
{
    /// <summary>Class weights, oversampling, loss and decision threshold.</summary>
    public ImbalanceSettings Imbalance { get; init; } = ImbalanceSettings.None;

    /// <summary>Allowed file formats.</summary>
    public static readonly string[] Formats = ["csv", "uci"];

    /// <summary>Allowed models.</summary>
    public static readonly string[] Models = ["logistic", "mlp"];

    /// <summary>
    /// The app setting under which the server sends the federated statistics with every task after the
    /// statistics step (reserved: a plan does not set it).
    /// </summary>
    public const string StatisticsKey = "_statistics";

    /// <summary>Smallest global count a category value needs to be named in a federated vocabulary (setting <c>min_category_count</c>).</summary>
    public long MinCategoryCount { get; init; } = 5;

    /// <summary>
    /// Whether a run with these settings needs the federated statistics step before round 1: global
    /// standardisation, balanced class weights (from federated class counts) and categories inferred
    /// from the data (federated vocabularies) all do.
    /// </summary>
    public bool NeedsStatistics => Preprocess.GlobalStandardize || Imbalance.ClassWeight == "balanced"
        || Preprocess.CategoricalAuto || Preprocess.InferCategories.Count > 0;

    /// <summary>The federated statistics the server sent, when the statistics step has run.</summary>
    public FederatedTabularStatistics? Statistics => Preprocess.Statistics;

    /// <summary>Most hidden layers an MLP may have (setting <c>hidden</c>).</summary>
    public const int MaxHiddenLayers = 16;

    /// <summary>Most units one hidden layer may have (setting <c>hidden</c>).</summary>
    public const int MaxLayerSize = 65_536;

    /// <summary>Most weights between hidden layers together (setting <c>hidden</c>): 2²⁸, a gigabyte of float32.</summary>
    public const long MaxHiddenWeights = 1L << 28;

    /// <summary>Allowed missing-value policies.</summary>
    public static readonly string[] MissingPolicies = ["drop", "mean"];

    /// <summary>
    /// Reads and validates settings; throws <see cref="AppConfigurationException"/> naming the setting.
    /// Keys (default; docs/apps.md has them all with examples): format csv|uci (csv); header (csv: true,
    /// uci: false); columns (required without header); drop_index (false); label (required); positive
    /// ("&gt; 0"); drop; categorical: auto | [columns] (inferred categories) or categorical.&lt;column&gt;
    /// (declared categories); drop_first (false); missing drop|mean (drop); standardize site|global|none (site); min_category_count (5);
    /// train_fraction (0.66); split_seed (43); stratify (true); model logistic|mlp (logistic); hidden
    /// (mlp only); class_weight none|balanced or class_weight.0/.1; oversample none|random|smote; loss
    /// bce|focal; focal_gamma (2); threshold 0.5|max_f1|recall:R; validation_fraction (0.2).
    /// Unknown keys are refused so a misspelt setting cannot be silently ignored.
    /// </summary>
    public static TabularSettings FromConfig(Config settings)
    {
        var r = new SettingsReader(settings, "app setting");

        var format = r.OneOf("format", Formats, "csv") == "uci" ? TabularFormat.Uci : TabularFormat.Csv;
        bool? header = r.Has("header") ? r.Bool("header", false) : null;
        var columns = r.List("columns");
        var read = new TabularReadOptions { Format = format, Header = header, Columns = columns, DropIndexColumn = r.Bool("drop_index", false) };
        if (read.DropIndexColumn && !read.HasHeader) throw r.Error("drop_index", "is set but the file has no header row to show an empty first cell");
        if (!read.HasHeader && columns is null)
            throw r.Error("columns", $"is missing (required because a {(format == TabularFormat.Uci ? "uci" : "header-less csv")} file does not name its columns)");

        string label = r.RequiredString("label", "the label column");
        LabelRule positive;
        string rule = r.String("positive", "> 0");
        try
        {
            positive = LabelRule.Parse(rule);
        }
        catch (FormatException e)
        {
            throw r.Error("positive", $"is '{rule}': {e.Message}");
        }

        var drop = r.List("drop") ?? [];
        var categorical = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (name, values) in r.Section("categorical"))
        {
            if (values.Distinct(StringComparer.Ordinal).Count() != values.Count)
                throw r.Error($"categorical.{name}", $"is '{string.Join(",", values)}', which repeats a category");
            categorical[name] = values;
        }
        bool categoricalAuto = false;
        IReadOnlyList<string> inferCategories = [];
        if (r.Has("categorical"))
        {
            if (categorical.Count > 0) throw r.Error("categorical", "is given both as a value and as a map of declared categories");
            var named = r.List("categorical")!;
            if (named is ["auto"]) categoricalAuto = true;
            else inferCategories = named;
            foreach (var name in inferCategories)
            {
                if (name == label) throw r.Error("categorical", $"names the label column '{label}'; the label cannot be categorical");
                if (drop.Contains(name)) throw r.Error("categorical", $"names '{name}', a column that drop removes");
            }
        }
        foreach (var name in categorical.Keys)
            if (drop.Contains(name)) throw r.Error($"categorical.{name}", "names a column that drop removes");
        if (categorical.ContainsKey(label)) throw r.Error($"categorical.{label}", "names the label column; the label cannot be categorical");
        if (drop.Contains(label)) throw r.Error("drop", $"contains the label column '{label}'");
        if (columns is not null)
        {
            // The setting that names the column is the one at fault (a misspelt label, not the list of columns), so the
            // problem names it first and plan check places it there.
            if (!columns.Contains(label)) throw r.Error("label", $"is '{label}', which is not among 'columns'");
            foreach (var c in drop)
                if (!columns.Contains(c)) throw r.Error("drop", $"names '{c}', which is not among 'columns'");
            foreach (var c in inferCategories)
                if (!columns.Contains(c)) throw r.Error("categorical", $"names '{c}', which is not among 'columns'");
            foreach (var c in categorical.Keys)
                if (!columns.Contains(c)) throw r.Error($"categorical.{c}", "names a column that is not among 'columns'");
        }

        var (standardize, global) = ReadStandardize(r);
        long minCategoryCount = r.Int("min_category_count", 5, 1, int.MaxValue);
        FederatedTabularStatistics? statistics = null;
        if (r.Has(StatisticsKey))
        {
            try
            {
                statistics = FederatedTabularStatistics.FromJson(r.String(StatisticsKey, ""), $"app setting '{StatisticsKey}'");
            }
            catch (InvalidDataException e)
            {
                throw new AppConfigurationException(e.Message);
            }
        }
        var preprocess = new TabularPreprocessorOptions
        {
            Label = label,
            Positive = positive,
            Drop = drop,
            Categorical = categorical,
            CategoricalAuto = categoricalAuto,
            InferCategories = inferCategories,
            DropFirst = r.Bool("drop_first", false),
            Missing = r.OneOf("missing", MissingPolicies, "drop") == "mean" ? MissingValues.Mean : MissingValues.Drop,
            Standardize = standardize,
            GlobalStandardize = global,
            Statistics = statistics,
            TrainFraction = r.Double("train_fraction", 0.66, f => f > 0 && f < 1, "a fraction strictly between 0 and 1"),
            SplitSeed = (uint)r.Int("split_seed", 43, 0, uint.MaxValue),
            Stratify = r.Bool("stratify", true),
        };

        string model = r.OneOf("model", Models, "logistic");
        var hiddenText = r.List("hidden");
        int[] hidden = [];
        if (model == "mlp")
        {
            if (hiddenText is null || hiddenText.Count == 0) throw r.Error("hidden", "is missing (required for model mlp: hidden layer sizes, e.g. [32, 16])");
            // The plan comes from the server: bounded before the model's weights are allocated from it.
            if (hiddenText.Count > MaxHiddenLayers)
                throw r.Error("hidden", $"has {hiddenText.Count} layers; at most {MaxHiddenLayers}");
            hidden = new int[hiddenText.Count];
            for (int i = 0; i < hidden.Length; i++)
            {
                if (!int.TryParse(hiddenText[i], out hidden[i]) || hidden[i] < 1)
                    throw r.Error("hidden", $"is '{string.Join(",", hiddenText)}'; expected positive layer sizes");
                if (hidden[i] > MaxLayerSize)
                    throw r.Error("hidden", $"has a layer of {hidden[i]} units (layer {i + 1}); at most {MaxLayerSize} per layer");
            }
            long between = 0;
            for (int i = 1; i < hidden.Length; i++) between += (long)hidden[i - 1] * hidden[i];
            if (between > MaxHiddenWeights)
                throw r.Error("hidden", $"needs {between} weights between its layers; at most {MaxHiddenWeights}");
        }
        else if (hiddenText is { Count: > 0 })
        {
            throw r.Error("hidden", "is set but model is logistic; use model: mlp for hidden layers");
        }

        var imbalance = ReadImbalance(r);
        r.RejectUnknownKeys();
        return new TabularSettings(read, preprocess, model, hidden) { Imbalance = imbalance, MinCategoryCount = minCategoryCount };
    }

    // site (the default; true also means it) z-scores with the site's own training rows, global with
    // all sites' training rows (from the statistics step), none (or false) leaves values as they are.
    private static (bool Standardize, bool Global) ReadStandardize(SettingsReader r)
    {
        string value = r.String("standardize", "site").ToLowerInvariant();
        return value switch
        {
            "site" or "true" => (true, false),
            "global" => (true, true),
            "none" or "false" => (false, false),
            _ => throw r.Error("standardize", $"is '{value}'; allowed: site, global, none"),
        };
    }

    private static ImbalanceSettings ReadImbalance(SettingsReader r)
    {
        string classWeight = "none";
        (double, double) weights = (1, 1);
        var explicitWeights = r.Section("class_weight");
        if (r.Has("class_weight"))
        {
            if (explicitWeights.Count > 0) throw r.Error("class_weight", "is given twice (a name and a map)");
            classWeight = r.OneOf("class_weight", ["none", "balanced"], "none");
        }
        else if (explicitWeights.Count > 0)
        {
            classWeight = "explicit";
            double w0 = 1, w1 = 1;
            foreach (var (name, values) in explicitWeights)
            {
                if (values.Count != 1 || !double.TryParse(values[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double w) || !(w > 0) || !double.IsFinite(w))
                    throw r.Error($"class_weight.{name}", $"is '{string.Join(",", values)}'; expected a weight > 0");
                if (name == "0") w0 = w;
                else if (name == "1") w1 = w;
                else throw r.Error($"class_weight.{name}", "names no class; the classes are 0 (negative) and 1 (positive)");
            }
            weights = (w0, w1);
        }
        string oversample = r.OneOf("oversample", ImbalanceSettings.OversampleMethods, "none");
        string loss = r.OneOf("loss", ImbalanceSettings.Losses, "bce");
        double gamma = r.Double("focal_gamma", 2, g => g >= 0, "a number ≥ 0");
        if (r.Has("focal_gamma") && loss != "focal") throw r.Error("focal_gamma", "is set but loss is bce; use loss: focal");
        DecisionThreshold threshold;
        string thresholdText = r.String("threshold", "0.5");
        try
        {
            threshold = DecisionThreshold.Parse(thresholdText);
        }
        catch (FormatException e)
        {
            throw r.Error("threshold", $"is {e.Message}");
        }
        double validation = r.Double("validation_fraction", 0.2, f => f > 0 && f < 1, "a fraction strictly between 0 and 1");
        return new ImbalanceSettings(classWeight, weights, oversample, loss, gamma, threshold, validation);
    }

    /// <summary>A new, uninitialised model for <paramref name="inputSize"/> features.</summary>
    public IModel CreateModel(int inputSize) => Model == "mlp" ? new Mlp(inputSize, Hidden) : new LogisticRegression(inputSize);
}
