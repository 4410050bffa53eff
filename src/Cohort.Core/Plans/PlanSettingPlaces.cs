using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>
/// Where in a plan file an app's problem with its settings points, so that <c>cohort plan check</c> and a server's
/// preflight at submit place it alike: at the key of the first setting the problem quotes that the plan's
/// <c>app.settings</c> has ("app setting 'lable' is not known" at <c>lable</c>, and "app setting 'label' is missing; is
/// 'lable' a misspelling of it?" at <c>lable</c> too, since <c>label</c> is not in the plan).
/// </summary>
internal sealed class PlanSettingPlaces
{
    private readonly YamlNode _root;

    private PlanSettingPlaces(string source, YamlMappingNode root)
    {
        Source = source;
        _root = root;
        Settings = YamlScalars.Child(root, "app") is { } app ? YamlScalars.Child(app, "settings") ?? app : root;
    }

    /// <summary>The plan file's name, as its errors name it.</summary>
    public string Source { get; }

    /// <summary><c>app.settings</c>, else <c>app</c>, else the whole document: where a problem that quotes no setting of the plan is placed.</summary>
    public YamlNode Settings { get; }

    /// <summary>The plan's <c>strategy.name</c> (else <c>strategy</c>, else the document): where an app's refusal of the strategy is placed.</summary>
    public YamlNode StrategyName => YamlScalars.Child(_root, "strategy") is { } strategy ? YamlScalars.Child(strategy, "name") ?? strategy : _root;

    /// <summary>
    /// Reads the plan's YAML (throws <see cref="PlanException"/> when it is not a plan's mapping). A repeated key is not
    /// an error here: the plan's parser reports it beside the app's problems, and the first one given is the one placed.
    /// </summary>
    public static PlanSettingPlaces Of(string yaml, string source) => new(source, PlanYamlLoader.LoadRoot(yaml, source, new PlanProblems()));

    /// <summary>The key of the first setting <paramref name="problem"/> quotes that the plan has; null when it quotes none.</summary>
    public YamlNode? SettingIn(string problem)
    {
        if (Settings is not YamlMappingNode map) return null;
        var quoted = problem.Split('\'');
        for (int i = 1; i + 1 < quoted.Length; i += 2)
        {
            string name = quoted[i].Split('.')[0];
            if (map.Children.Keys.FirstOrDefault(k => k is YamlScalarNode s && s.Value == name) is { } key) return key;
        }
        return null;
    }

    /// <summary><c>SOURCE:LINE:COLUMN</c> of <paramref name="node"/>, as a plan error names its place.</summary>
    public string Place(YamlNode node) => $"{Source}:{node.Start.Line}:{node.Start.Column}";
}
