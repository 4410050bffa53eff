using Cohort.Learning.Data;
using Cohort.Learning.Metrics;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Apps.Tabular;

/// <summary>
/// The server's side of the tabular app: combines the nodes' <see cref="TabularStatistics"/> into the
/// <see cref="FederatedTabularStatistics"/> every later task carries (checking that the nodes' tables
/// agree), and evaluates the global model on a test file the server holds (<c>central_evaluation</c>),
/// preprocessed as the nodes preprocess their rows.
/// </summary>
/// <param name="files">Where <c>central_evaluation.file</c> is looked up: the server's evaluation folder (nothing outside it), or a simulated plan's folder.</param>
internal sealed class TabularServerApp(EvaluationFolder files) : IServerApp
{
    /// <summary>
    /// In a simulation, the held-out rows its own central evaluation scores; with statistics, they are
    /// preprocessed with them so that they meet the features the model was trained on. Null on a server.
    /// </summary>
    public Func<TabularPreprocessorOptions, TabularDataset>? HeldOut { get; init; }

    /// <inheritdoc />
    public string Name => TabularAppFactory.AppName;

    /// <inheritdoc />
    public bool NeedsStatistics(Plan plan)
    {
        try
        {
            return Settings(plan).NeedsStatistics;
        }
        catch (InvalidDataException)
        {
            // Settings the app cannot read are the nodes' to report, with their data at hand (the preflight,
            // or the run's first task); the run waits for nodes as any other would.
            return false;
        }
    }

    /// <inheritdoc />
    public Config AggregateStatistics(Plan plan, IReadOnlyList<NodeStatistics> nodes)
    {
        var settings = Settings(plan);
        var sites = new List<(string, TabularStatistics)>();
        foreach (var node in nodes)
        {
            string json = node.Metrics.TryGetValue(TabularStatisticsApp.MetricName, out var text) && text.Kind == ScalarKind.String
                ? text.AsString()
                : throw new InvalidDataException($"node '{node.Node}' sent no '{TabularStatisticsApp.MetricName}'");
            sites.Add((node.Node, TabularStatistics.FromJson(json, $"node '{node.Node}'")));
        }
        var combined = FederatedTabularStatistics.Aggregate(sites, settings.MinCategoryCount, settings.Preprocess.Categorical);
        return new Config([KeyValuePair.Create(TabularSettings.StatisticsKey, Scalar.Of(combined.ToJson()))]);
    }

    /// <inheritdoc />
    public CentralEvaluator? CreateCentralEvaluator(Plan plan)
    {
        // Nothing to evaluate centrally: the plan's settings are the nodes' to check.
        if (plan.CentralEvaluation is null && HeldOut is null) return null;
        var settings = Settings(plan);
        TabularDataset rows;
        if (plan.CentralEvaluation is { } spec)
        {
            string path = files.Resolve(spec.File);
            var options = settings.Preprocess;
            if (settings.Statistics is { } stats)
            {
                // The sites' categorical columns are categorical here too, whatever this file's values look like.
                var categorical = new Dictionary<string, IReadOnlyList<string>>(stats.Vocabularies, StringComparer.Ordinal);
                foreach (var (name, values) in options.Categorical) categorical[name] = values;
                options = options with { Categorical = categorical, CategoricalAuto = false, InferCategories = [] };
            }
            try
            {
                var table = TabularReader.ReadFile(path, TabularPreprocessor.ReadOptionsFor(settings.Read, options));
                rows = TabularPreprocessor.ProcessHeldOut(table, options);
            }
            catch (TabularDataException e)
            {
                // The run's error is read by operators and viewers: what is wrong, not the file's values.
                throw new InvalidDataException(e.SharedMessage, e);
            }
        }
        else if (HeldOut is { } heldOut && settings.Statistics is not null)
        {
            rows = heldOut(settings.Preprocess);
        }
        else
        {
            return null;
        }
        // The server has no validation rows: a threshold the sites choose (max_f1, recall:R) is 0.5 here.
        double threshold = settings.Imbalance.Threshold.Fixed ?? BinaryMetrics.Threshold;
        return (round, global, ct) => Task.Run<EvaluateResult?>(() =>
        {
            var model = settings.CreateModel(rows.FeatureCount);
            model.SetParameters(global);
            return TabularEvaluation.Evaluate(model, rows, threshold, histograms: false);
        }, ct);
    }

    private static TabularSettings Settings(Plan plan)
    {
        try
        {
            return TabularSettings.FromConfig(plan.App.Settings);
        }
        catch (AppConfigurationException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }
}
