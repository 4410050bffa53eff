using System.Globalization;
using Cohort.Apps.Tabular;
using Cohort.Plans;
using Cohort.Records;
using YamlDotNet.RepresentationModel;

namespace Cohort.Apps.Tests;

/// <summary>
/// examples/heart-disease/plan.yaml as the tests need it: the app settings flattened the way a node
/// receives them (dotted keys for maps, comma-joined sequences) and the train section as a
/// <see cref="Plan"/>, so the fit configs come from Plan.FitConfig exactly as the server builds them.
/// </summary>
internal static class HeartDiseasePlan
{
    public static readonly string[] Hospitals = ["cleveland", "hungarian", "switzerland", "va"];

    public static string Root { get; } = FindRoot();

    public static string DataPath(string hospital) => Path.Combine(Root, "examples", "heart-disease", "data", $"processed.{hospital}.data");

    public static Plan Load()
    {
        var yaml = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Root, "examples", "heart-disease", "plan.yaml"))) yaml.Load(reader);
        var root = (YamlMappingNode)yaml.Documents[0].RootNode;

        var settings = new Dictionary<string, Scalar>(StringComparer.Ordinal);
        Flatten(Child(Child(root, "app"), "settings"), "", settings);
        var train = new Dictionary<string, Scalar>(StringComparer.Ordinal);
        Flatten(Child(root, "train"), "", train);
        var t = new Config(train);

        return new Plan
        {
            Name = "heart-disease",
            App = new AppSpec(((YamlScalarNode)Child(Child(root, "app"), "name")).Value!, new Config(settings)),
            Strategy = new StrategySpec("fedavg", Config.Empty),
            // Every hospital trains and evaluates every round, as the example plan's selection section says.
            Selection = new global::Cohort.Strategies.Selection(Hospitals.Length, Hospitals.Length, Hospitals.Length, 1.0, 1.0),
            Rounds = int.Parse(((YamlScalarNode)Child(root, "rounds")).Value!, CultureInfo.InvariantCulture),
            Seed = long.Parse(((YamlScalarNode)Child(root, "seed")).Value!, CultureInfo.InvariantCulture),
            Train = new TrainSpec
            {
                LocalSteps = t.ContainsKey("local_steps") ? (int)t.GetInt("local_steps", 0) : null,
                LocalEpochs = t.ContainsKey("local_epochs") ? (int)t.GetInt("local_epochs", 1) : 1,
                BatchSize = (int)t.GetInt("batch_size", 32),
                Optimizer = t.GetString("optimizer", "sgd"),
                LearningRate = t.GetDouble("learning_rate", 0.01),
                WeightDecay = t.GetDouble("weight_decay", 0),
                Momentum = t.GetDouble("momentum", 0),
            },
        };
    }

    /// <summary>One tabular app per hospital, as each hospital's node would create it for <paramref name="plan"/>.</summary>
    public static Dictionary<string, TabularApp> CreateApps(Plan plan) =>
        Hospitals.ToDictionary(h => h, h => new TabularAppFactory().CreateTabular(Context(plan, h)));

    public static ClientAppContext Context(Plan plan, string hospital) =>
        new("test-run", hospital, plan.App.Settings, new Config([KeyValuePair.Create("data", Scalar.Of(DataPath(hospital)))]));

    private static YamlNode Child(YamlNode map, string key) =>
        ((YamlMappingNode)map).Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : throw new KeyNotFoundException($"plan.yaml has no '{key}'");

    private static void Flatten(YamlNode node, string prefix, Dictionary<string, Scalar> into)
    {
        switch (node)
        {
            case YamlMappingNode map:
                foreach (var (k, v) in map.Children)
                    Flatten(v, prefix.Length == 0 ? ((YamlScalarNode)k).Value! : $"{prefix}.{((YamlScalarNode)k).Value}", into);
                break;
            case YamlSequenceNode seq:
                into[prefix] = string.Join(",", seq.Children.Select(c => ((YamlScalarNode)c).Value));
                break;
            case YamlScalarNode s:
                into[prefix] = Typed(s);
                break;
        }
    }

    private static Scalar Typed(YamlScalarNode s)
    {
        string v = s.Value ?? "";
        if (s.Style is YamlDotNet.Core.ScalarStyle.SingleQuoted or YamlDotNet.Core.ScalarStyle.DoubleQuoted) return v;
        if (bool.TryParse(v, out bool b)) return b;
        if (long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out long l)) return l;
        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d)) return d;
        return v;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Cohort.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Cohort.slnx above {AppContext.BaseDirectory}");
    }
}
