using Cohort.Records;
using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>
/// Turns <c>app.settings</c> into a flat config: nested mappings become dotted keys
/// (<c>categorical: {cp: [1, 2]}</c> → <c>categorical.cp</c>) and lists of single values become
/// comma-joined text (<c>"1,2"</c>); single values keep the plan's scalar typing.
/// </summary>
internal static class AppSettingsFlattener
{
    /// <summary>Flattens the settings node named <paramref name="path"/> in messages; an empty value gives an empty config.</summary>
    public static Config Flatten(string source, string path, YamlNode node)
    {
        if (YamlScalars.IsNull(node)) return Config.Empty;
        if (node is not YamlMappingNode map)
            throw YamlSection.Error(source, node, $"{path}: expected a mapping of settings, got {YamlScalars.Describe(node)}");
        var values = new Dictionary<string, Scalar>(StringComparer.Ordinal);
        Add(source, path, map, "", values);
        return new Config(values);
    }

    private static void Add(string source, string path, YamlMappingNode map, string prefix, Dictionary<string, Scalar> values)
    {
        foreach (var (keyNode, value) in map.Children)
        {
            string key = prefix + YamlSection.KeyName(source, prefix.Length == 0 ? path : $"{path}.{prefix.TrimEnd('.')}", keyNode);
            string name = $"{path}.{key}";
            if (value is YamlMappingNode nested)
            {
                Add(source, path, nested, key + ".", values);
                continue;
            }
            Scalar scalar = value switch
            {
                YamlSequenceNode seq => Join(source, name, seq),
                _ when YamlScalars.IsNull(value) => throw YamlSection.Error(source, value, $"{name}: has no value"),
                YamlScalarNode s => YamlScalars.ToScalar(s),
                _ => throw YamlSection.Error(source, value, $"{name}: unsupported value"),
            };
            // "a.b: 1" beside "a: {b: 2}" flattens to the same key.
            if (!values.TryAdd(key, scalar))
                throw YamlSection.Error(source, keyNode, $"{name}: setting '{key}' is given twice (nested keys flatten to dotted names)");
        }
    }

    private static Scalar Join(string source, string name, YamlSequenceNode seq)
    {
        var items = new List<string>(seq.Children.Count);
        for (int i = 0; i < seq.Children.Count; i++)
        {
            var item = seq.Children[i];
            string itemName = $"{name}[{i}]";
            if (item is not YamlScalarNode s || YamlScalars.IsNull(item))
                throw YamlSection.Error(source, item, $"{itemName}: a settings list may hold only single values (it becomes comma-joined text), got {YamlScalars.Describe(item)}");
            string text = s.Value ?? "";
            if (text.Length == 0) throw YamlSection.Error(source, item, $"{itemName}: must not be empty");
            if (text.Contains(',')) throw YamlSection.Error(source, item, $"{itemName}: '{text}' contains a comma, which the comma-joined form cannot keep apart");
            items.Add(text);
        }
        return string.Join(",", items);
    }
}
