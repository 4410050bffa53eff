using Cohort.Apps;
using Cohort.Plans;
using Cohort.Records;

namespace Cohort.Cli.Commands;

/// <summary>
/// What a plan's app says of its settings with no data to read (unknown or misspelt settings, values out of range), for
/// <c>cohort plan check</c>: each problem placed at the setting it names in the plan file, else at <c>app.settings</c>; or the
/// app's refusal of the plan's strategy.
/// </summary>
internal static class PlanAppSettings
{
    /// <summary>
    /// The app's problems with the plan's settings, and its refusal of the plan's <paramref name="strategy"/> (placed at the
    /// strategy's name); none when the app is unknown here or does not check its settings.
    /// </summary>
    public static IReadOnlyList<PlanException> Problems(string path, string yaml, AppSpec app, Plugins.AppCatalog apps, string? strategy = null)
    {
        var factory = apps.Find(app.Name);
        var places = PlanSettingPlaces.Of(yaml, path);
        if (factory is not null && StrategyLimits.RefusalOf(factory, strategy) is { } refusal)
        {
            var name = places.StrategyName;
            return [new PlanException(path, name.Start.Line, name.Start.Column, $"strategy.name: {refusal}")];
        }
        if (factory is not IValidatingClientApp validating) return [];
        var at = places.Settings;
        IReadOnlyList<string> problems;
        try
        {
            problems = validating.Validate(new ClientAppContext("plan-check", "plan-check", app.Settings, Config.Empty));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // An app's check that throws (a plugin's) is its problem with these settings, placed where they are, as submit's preflight says it.
            return [new PlanException(path, at.Start.Line, at.Start.Column, $"app.settings: the app's check failed: {e.GetType().Name}: {e.Message}")];
        }
        if (problems.Count == 0) return [];
        return [.. problems.Select(problem =>
        {
            var node = places.SettingIn(problem) ?? at;
            return new PlanException(path, node.Start.Line, node.Start.Column, $"app.settings: {problem}");
        })];
    }
}
