using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>Edits plan YAML text: sets values by dotted key path (e.g. <c>strategy.name</c>) before the plan is submitted.</summary>
internal static class PlanText
{
    /// <summary>Returns <paramref name="yaml"/> with the list at dotted <paramref name="path"/> set to <paramref name="items"/> (sections created as needed).</summary>
    public static string WithList(string yaml, string path, IEnumerable<string> items)
    {
        var stream = new YamlStream();
        PlanYamlLoader.CheckSize(yaml, "plan");
        using (var reader = new StringReader(yaml)) stream.Load(reader);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new PlanException("plan", 0, 0, "plan is not a YAML mapping");
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
        map.Children[new YamlScalarNode(parts[^1])] = new YamlSequenceNode(items.Select(i => (YamlNode)new YamlScalarNode(i)));
        using var writer = new StringWriter();
        stream.Save(writer, assignAnchors: false);
        string text = writer.ToString();
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }

    /// <summary>Returns <paramref name="yaml"/> with each (path, value) set; missing mappings along a path are created.</summary>
    public static string WithValues(string yaml, IEnumerable<(string Path, string Value)> values)
    {
        var stream = new YamlStream();
        PlanYamlLoader.CheckSize(yaml, "plan");
        using (var reader = new StringReader(yaml)) stream.Load(reader);
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw new PlanException("plan", 0, 0, "plan is not a YAML mapping");
        foreach (var (path, value) in values)
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
            map.Children[new YamlScalarNode(parts[^1])] = new YamlScalarNode(value);
        }
        using var writer = new StringWriter();
        stream.Save(writer, assignAnchors: false);
        string text = writer.ToString();
        // YamlStream.Save ends the document with "...", which is valid YAML but noise in a stored plan.
        return text.EndsWith("...\n", StringComparison.Ordinal) ? text[..^4] : text;
    }
}
