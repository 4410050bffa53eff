using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>
/// Edits plan YAML text: sets values by dotted key path (e.g. <c>strategy.name</c>) before the plan is submitted. The
/// text is read as the plan parser reads it, so a malformed plan fails here with its own source (file name),
/// line and column.
/// </summary>
internal static class PlanText
{
    /// <summary>Returns <paramref name="yaml"/> with the list at dotted <paramref name="path"/> set to <paramref name="items"/> (sections created as needed).</summary>
    public static string WithList(string yaml, string path, IEnumerable<string> items, string source = "plan") =>
        Edit(yaml, source, root => Set(root, path, new YamlSequenceNode(items.Select(i => (YamlNode)new YamlScalarNode(i)))));

    /// <summary>Returns <paramref name="yaml"/> with each (path, value) set; missing mappings along a path are created.</summary>
    public static string WithValues(string yaml, IEnumerable<(string Path, string Value)> values, string source = "plan") =>
        WithNodes(yaml, values, source, (_, value) => new YamlScalarNode(value));

    /// <summary>
    /// <see cref="WithValues"/> for values typed on a command line (<c>--set</c>): one written as a YAML flow list or map is
    /// that list or map.
    /// </summary>
    public static string WithTypedValues(string yaml, IEnumerable<(string Path, string Value)> values, string source = "plan") =>
        WithNodes(yaml, values, source, (path, value) => ValueNode(path, value, source));

    private static string WithNodes(string yaml, IEnumerable<(string Path, string Value)> values, string source, Func<string, string, YamlNode> node) =>
        Edit(yaml, source, root =>
        {
            foreach (var (path, value) in values) Set(root, path, node(path, value));
        });

    // A value written as a YAML flow list ([256, 256]) or map ({ type: step, gamma: 0.5 }) is that list or map; any
    // other value is one scalar, exactly as typed (so "a, b" stays text).
    private static YamlNode ValueNode(string path, string value, string source)
    {
        string t = value.Trim();
        if (!(t.StartsWith('[') && t.EndsWith(']')) && !(t.StartsWith('{') && t.EndsWith('}'))) return new YamlScalarNode(value);
        try
        {
            return PlanYamlLoader.Load($"value: {t}\n", source).Root.Children[new YamlScalarNode("value")];
        }
        catch (PlanException e)
        {
            throw new PlanException($"--set {path}={value}", 0, 0, $"not a YAML list or map: {e.Problem}");
        }
    }

    private static string Edit(string yaml, string source, Action<YamlMappingNode> edit)
    {
        var (stream, root) = PlanYamlLoader.Load(yaml, source);
        edit(root);
        using var writer = new StringWriter();
        stream.Save(writer, assignAnchors: false);
        string text = writer.ToString();
        // YamlStream.Save ends the document with "...", which is valid YAML but noise in a stored plan.
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }

    private static void Set(YamlMappingNode root, string path, YamlNode value)
    {
        var parts = path.Split('.');
        var map = root;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            var key = new YamlScalarNode(parts[i]);
            if (!map.Children.TryGetValue(key, out var child) || child is not YamlMappingNode next)
            {
                next = new YamlMappingNode();
                map.Children[key] = next;
            }
            map = next;
        }
        map.Children[new YamlScalarNode(parts[^1])] = value;
    }
}
