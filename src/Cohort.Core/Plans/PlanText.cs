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
        Edit(yaml, source, root =>
        {
            foreach (var (path, value) in values) Set(root, path, new YamlScalarNode(value));
        });

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
