using System.Globalization;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Sites;

/// <summary>
/// What a site (a node) accepts to train for, whoever runs the server: client apps, strategies, upper
/// bounds on rounds and hyperparameters, required privacy, the submitters and tags it serves, and
/// whether the server may start its training at all. The node checks every task against it before
/// running anything; read one from YAML with <c>SitePolicyParser</c> (in Cohort.Core).
/// </summary>
public sealed record SitePolicy
{
    /// <summary>Client apps the site runs (names, ignoring case); null accepts any.</summary>
    public IReadOnlyList<string>? Apps { get; init; }

    /// <summary>
    /// Data sets a run may train on, by the names the node declares them under (<c>cohort node --data NAME=PATH</c>);
    /// null accepts any. A run that names no data set, which would use the node's default data, is refused when set.
    /// </summary>
    public IReadOnlyList<string>? Datasets { get; init; }

    /// <summary>Strategies the site accepts (names, ignoring case); null accepts any.</summary>
    public IReadOnlyList<string>? Strategies { get; init; }

    /// <summary>Most rounds a run may plan; null for no bound.</summary>
    public int? MaxRounds { get; init; }

    /// <summary>
    /// Upper bounds on numeric task config or app settings by key (<c>local_epochs</c>, <c>batch_size</c>…); a key the run does
    /// not send is not checked, and a list of numbers (<c>hidden: [64, 32]</c>) is bounded by its largest element.
    /// </summary>
    public IReadOnlyDictionary<string, double> Limits { get; init; } = new Dictionary<string, double>(StringComparer.Ordinal);

    /// <summary>
    /// Lower bounds on numeric task config or app settings by key (<c>batch_size</c>, <c>min_category_count</c>…): a run
    /// that sends a smaller value, or does not send the key at all (the app's default, which the site cannot see, would
    /// apply), is refused; a list is bounded by its smallest element.
    /// </summary>
    public IReadOnlyDictionary<string, double> Minimums { get; init; } = new Dictionary<string, double>(StringComparer.Ordinal);

    /// <summary>
    /// Largest model, in bytes, the site accepts from the server for one task; null for no bound of its own. The node
    /// checks the model's manifest before it allocates anything, against the lower of this and its own limit.
    /// </summary>
    public long? MaxModelBytes { get; init; }

    /// <summary>True when the site trains only for runs that use secure aggregation.</summary>
    public bool RequireSecureAggregation { get; init; }

    /// <summary>True when the site trains only for runs with differential privacy (central or local).</summary>
    public bool RequireDifferentialPrivacy { get; init; }

    /// <summary>Least noise multiplier σ a run's differential privacy may use; null for no bound.</summary>
    public double? MinNoiseMultiplier { get; init; }

    /// <summary>Submitters the site serves; null accepts any.</summary>
    public IReadOnlyList<string>? Submitters { get; init; }

    /// <summary>Tags the site serves: a run must carry at least one; null accepts any.</summary>
    public IReadOnlyList<string>? Tags { get; init; }

    /// <summary>
    /// False when the server may not start this site's training on its own: the site then trains only
    /// the runs listed in <see cref="Runs"/> or carrying one of <see cref="Tags"/>.
    /// </summary>
    public bool AllowServerStart { get; init; } = true;

    /// <summary>Run ids the site's operator approved; they pass the server-start, submitter and tag checks (not the others).</summary>
    public IReadOnlyList<string> Runs { get; init; } = [];

    /// <summary>A policy that accepts everything.</summary>
    public static SitePolicy AllowAll { get; } = new();

    /// <summary>
    /// Why a task of run <paramref name="runId"/> for <paramref name="app"/> with <paramref name="terms"/>,
    /// its <paramref name="config"/> and <paramref name="appSettings"/> is outside this policy; null when it is inside.
    /// The same run always gets the same answer for any of its tasks' configs that carry the same keys.
    /// </summary>
    public string? Refusal(string runId, string app, RunTerms terms, Config config, Config appSettings)
    {
        ArgumentNullException.ThrowIfNull(terms);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(appSettings);
        if (Apps is { } apps && !Contains(apps, app))
            return $"app {Show(app)} not in allowed [{string.Join(", ", apps)}]";
        if (Datasets is { } datasets && !(terms.Dataset is { } dataset && datasets.Contains(dataset, StringComparer.Ordinal)))
            return terms.Dataset is null
                ? $"the run names no data set, and the site trains only on [{string.Join(", ", datasets)}] (datasets)"
                : $"data set {terms.Dataset} not in allowed [{string.Join(", ", datasets)}]";
        bool approved = Runs.Contains(runId, StringComparer.Ordinal);
        bool tagged = Tags is { } tags && terms.Tags.Any(t => Contains(tags, t));
        if (!AllowServerStart && !approved && !tagged)
            return $"the site does not let the server start its training (allow_server_start: false) and run {runId} is not approved (not under runs{(Tags is { Count: > 0 } ? $", and carries none of the tags [{string.Join(", ", Tags)}]" : "")})";
        if (!approved && Submitters is { } submitters && !submitters.Contains(terms.Submitter ?? "", StringComparer.Ordinal))
            return $"submitter {(string.IsNullOrEmpty(terms.Submitter) ? "unknown (the server names none)" : terms.Submitter)} not in allowed [{string.Join(", ", submitters)}]";
        if (!approved && Tags is { } served && !tagged)
            return $"run tags [{string.Join(", ", terms.Tags)}] carry none of the allowed [{string.Join(", ", served)}]";
        if (Strategies is { } strategies && !Contains(strategies, terms.Strategy))
            return $"strategy {Show(terms.Strategy)} not in allowed [{string.Join(", ", strategies)}]";
        if (MaxRounds is { } maxRounds && terms.Rounds > maxRounds)
            return $"rounds {terms.Rounds} above the site's max_rounds {maxRounds}";
        foreach (var (key, max) in Limits.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if ((BoundProblem(key, max, Bound.Limit, config) ?? BoundProblem(key, max, Bound.Limit, appSettings)) is { } problem) return problem;
        }
        foreach (var (key, min) in Minimums.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            // Left out, the app's default would apply, which the site cannot see from here: a minimum needs the run to say.
            if (!config.ContainsKey(key) && !appSettings.ContainsKey(key))
                return $"the run does not set {key}, and the site's minimum is {Number(min)} (set it in the plan)";
            if ((BoundProblem(key, min, Bound.Minimum, config) ?? BoundProblem(key, min, Bound.Minimum, appSettings)) is { } problem) return problem;
        }
        if (RequireSecureAggregation && !terms.SecureAggregation)
            return "the run does not use secure aggregation (require_secure_aggregation: true)";
        if (RequireDifferentialPrivacy && terms.Privacy is null)
            return "the run uses no differential privacy (require_differential_privacy: true)";
        if (MinNoiseMultiplier is { } minSigma && terms.Privacy is not null && !(terms.NoiseMultiplier >= minSigma))
            return $"noise multiplier {Number(terms.NoiseMultiplier ?? 0)} below the site's min_noise_multiplier {Number(minSigma)}";
        return null;
    }

    // A key the run does not send is not checked here (a minimum asks for it before).
    private static string? BoundProblem(string key, double bound, Bound side, Config values)
    {
        if (!values.TryGetValue(key, out var value)) return null;
        double? number = value.IsNumber ? value.AsDouble()
            : value.Kind == ScalarKind.String ? Extreme(value.AsString(), side.Pick)
            : null;
        if (number is not { } n || double.IsNaN(n)) return $"{key} {Show(value.ToString())} is not a number ({side.Stated} {Number(bound)})";
        return side.Refuses(n, bound) ? $"{key} {value} {side.Crossed} {Number(bound)}" : null;
    }

    // Which way a numeric bound faces: the element of a list it judges, which values it refuses, and how a refusal names it.
    private sealed record Bound(Func<double, double, double> Pick, Func<double, double, bool> Refuses, string Stated, string Crossed)
    {
        // limits: a value above the bound is refused, and a list is as large as its largest element.
        public static readonly Bound Limit = new(Math.Max, (n, max) => n > max, "the site limits it to", "above the site's limit");

        // minimums: a value below the bound is refused, and a list is as small as its smallest element.
        public static readonly Bound Minimum = new(Math.Min, (n, min) => n < min, "the site's minimum is", "below the site's minimum");
    }

    // A plan's list (hidden: [64, 32]) reaches the node joined with commas: it is as large as its largest element and as
    // small as its smallest; a list with an element that is no number is not a number.
    private static double? Extreme(string text, Func<double, double, double> pick)
    {
        double? extreme = null;
        foreach (var range in text.AsSpan().Split(','))
        {
            if (!double.TryParse(text.AsSpan()[range].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || double.IsNaN(n)) return null;
            extreme = extreme is { } e ? pick(e, n) : n;
        }
        return extreme;
    }

    private static bool Contains(IReadOnlyList<string> list, string item) => list.Contains(item, StringComparer.OrdinalIgnoreCase);

    private static string Show(string text) => text.Length == 0 ? "(none sent)" : text;

    private static string Number(double d) => d.ToString("R", CultureInfo.InvariantCulture);
}
