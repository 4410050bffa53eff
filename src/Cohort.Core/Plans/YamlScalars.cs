using System.Globalization;
using System.Text.RegularExpressions;
using Cohort.Records;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>The plan's scalar typing: plain true/false → bool, integers → long, decimals/exponents → double, else string.</summary>
internal static partial class YamlScalars
{
    private const string StringTag = "tag:yaml.org,2002:str";

    /// <summary>True for an empty value, <c>~</c> or <c>null</c> written plain (YAML's null).</summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any } s
        && s.Tag.IsEmpty
        && s.Value is null or "" or "~" or "null" or "Null" or "NULL";

    /// <summary>Types a scalar node; quoted (or <c>!!str</c>-tagged) values always stay strings.</summary>
    public static Scalar ToScalar(YamlScalarNode node)
    {
        string text = node.Value ?? "";
        if (node.Style is not (ScalarStyle.Plain or ScalarStyle.Any) || (node.Tag.IsGlobal && node.Tag.Value == StringTag)) return text;
        switch (text)
        {
            case "true" or "True" or "TRUE": return true;
            case "false" or "False" or "FALSE": return false;
        }
        if (IntegerPattern().IsMatch(text))
        {
            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
            // Too large for a long: still a number, so keep it as one.
            return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        if (DecimalPattern().IsMatch(text)) return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return text;
    }

    /// <summary>"a mapping", "a list", "an empty value" or "a value", for messages.</summary>
    public static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => "a mapping",
        YamlSequenceNode => "a list",
        _ when IsNull(node) => "an empty value",
        _ => "a value",
    };

    /// <summary>The value under <paramref name="key"/> when <paramref name="node"/> is a mapping that has it; else null.</summary>
    public static YamlNode? Child(YamlNode? node, string key) =>
        node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var child) ? child : null;

    /// <summary>A value as a message shows it: numbers and bools bare, text quoted.</summary>
    public static string Show(Scalar value) => value.Kind == ScalarKind.String ? $"'{value}'" : value.ToString();

    /// <summary>
    /// "'x' is not <paramref name="what"/>", saying why when the text is a number in quotes: quoting makes any YAML value
    /// text, which is the usual surprise behind this error.
    /// </summary>
    public static string IsNot(Scalar value, string what)
    {
        string text = value.ToString();
        bool quotedNumber = value.Kind == ScalarKind.String && (IntegerPattern().IsMatch(text) || DecimalPattern().IsMatch(text));
        if (quotedNumber) return $"\"{text}\" is quoted, so it is text, not {what} (write {text} without quotes)";
        // 1e12 or 3.0 reads as a decimal number, and shown plainly (1000000000000, 3) it would look like the integer it is not.
        if (value.Kind == ScalarKind.Double && value.AsDouble() is var d && double.IsFinite(d) && Math.Floor(d) == d)
        {
            string digits = d.ToString("0", System.Globalization.CultureInfo.InvariantCulture);
            return $"{digits} is written as a decimal number (with a point or an exponent), not {what}; write it as digits alone ({digits})";
        }
        return $"{Show(value)} is not {what}";
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex DecimalPattern();
}
