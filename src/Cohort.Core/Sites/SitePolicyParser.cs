using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Sites;

/// <summary>Reads a site policy from YAML; unknown keys and wrong values are errors naming the file, line and key.</summary>
public static class SitePolicyParser
{
    /// <summary>The keys a site policy may have.</summary>
    public static readonly IReadOnlyList<string> Keys =
    [
        "apps", "strategies", "max_rounds", "max_local_epochs", "max_local_steps", "limits", "require_secure_aggregation",
        "require_differential_privacy", "min_noise_multiplier", "submitters", "tags", "allow_server_start", "runs", "max_model_bytes", "datasets", "minimums",
    ];

    /// <summary>Reads the policy file at <paramref name="path"/>.</summary>
    public static SitePolicy Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SitePolicyException($"{path}: cannot read the site policy: {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Parses policy text; <paramref name="source"/> names it in errors.</summary>
    public static SitePolicy Parse(string yaml, string source)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            var top = YamlSection.Read(source, "", PlanYamlLoader.LoadRoot(yaml, source, "site policy", "keys such as apps, strategies, max_rounds"), [.. Keys], root: "site policy");
            var limits = new Dictionary<string, double>(StringComparer.Ordinal);
            var limitSection = top.Section("limits", allowed: null);
            foreach (var (key, _) in limitSection.Entries)
                limits[key] = limitSection.Number(key, NumberBounds.NonNegative)!.Value;
            var minimums = new Dictionary<string, double>(StringComparer.Ordinal);
            var minimumSection = top.Section("minimums", allowed: null);
            foreach (var (key, _) in minimumSection.Entries)
                minimums[key] = minimumSection.Number(key, NumberBounds.NonNegative)!.Value;
            // A plan bounds local training by epochs or by steps (train.local_epochs, train.local_steps): each has its own key.
            foreach (var (key, limit) in new[] { ("max_local_epochs", "local_epochs"), ("max_local_steps", "local_steps") })
            {
                if (top.Integer(key, 0, int.MaxValue) is not { } max) continue;
                if (limits.ContainsKey(limit))
                    throw top.Error(top.FindKey(key)!, $"{key}: also given as limits.{limit}; keep one");
                limits[limit] = max;
            }
            return new SitePolicy
            {
                Apps = NonEmpty(top, "apps"),
                Datasets = NonEmpty(top, "datasets"),
                Strategies = NonEmpty(top, "strategies"),
                MaxRounds = top.Int("max_rounds", 1),
                MaxModelBytes = top.Integer("max_model_bytes", 1, long.MaxValue),
                Limits = limits,
                Minimums = minimums,
                RequireSecureAggregation = Bool(top, "require_secure_aggregation") ?? false,
                RequireDifferentialPrivacy = Bool(top, "require_differential_privacy") ?? false,
                MinNoiseMultiplier = top.Number("min_noise_multiplier", NumberBounds.NonNegative),
                Submitters = NonEmpty(top, "submitters"),
                Tags = NonEmpty(top, "tags"),
                AllowServerStart = Bool(top, "allow_server_start") ?? true,
                Runs = top.StringList("runs") ?? [],
            };
        }
        catch (PlanException e)
        {
            throw new SitePolicyException(e.Line > 0 ? $"site policy {e.Source}:{e.Line}:{e.Column}: {e.Problem}" : $"site policy {e.Source}: {e.Problem}");
        }
    }

    private static bool? Bool(YamlSection top, string key)
    {
        if (top.Value(key) is not { } v) return null;
        if (v.Kind != ScalarKind.Bool) throw top.Error(top.Find(key)!, $"{key}: {YamlScalars.Show(v)} is not allowed (allowed: true, false)");
        return v.AsBool();
    }

    // An empty list would refuse everything, which is more likely a slip than a wish: say so.
    private static IReadOnlyList<string>? NonEmpty(YamlSection top, string key)
    {
        var list = top.StringList(key);
        if (list is { Count: 0 }) throw top.Error(top.Find(key)!, $"{key}: an empty list would refuse every run; leave the key out to accept any");
        return list;
    }
}
