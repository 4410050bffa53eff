using Cohort.Apps;
using Cohort.Cli.Commands;
using Cohort.Cli.Plugins;
using Cohort.Plans;
using Cohort.Strategies;

namespace Cohort.Integration.Tests;

/// <summary>What <c>cohort plan check</c> makes of an app's own check of its settings, a plugin's included.</summary>
public sealed class PlanAppSettingsTests
{
    [Fact]
    public void An_apps_check_that_throws_is_one_problem_placed_at_app_settings_not_a_crash()
    {
        const string yaml = "name: p\napp:\n  name: thrower\n  settings:\n    depth: 3\nstrategy: { name: fedavg }\n";
        var plan = PlanParser.Parse(yaml, "p.yaml", StrategyRegistry.CreateDefault());
        var apps = AppCatalog.CreateDefault();
        apps.Add(new ThrowingChecker(), "test");

        var problem = Assert.Single(PlanAppSettings.Problems("p.yaml", yaml, plan.App, apps));

        Assert.Equal((5L, 5L), (problem.Line, problem.Column));
        Assert.Equal("app.settings: the app's check failed: InvalidOperationException: no data to look at", problem.Problem);
    }

    [Fact]
    public void A_misspelt_required_setting_is_placed_at_the_misspelling()
    {
        const string yaml = "name: p\napp:\n  name: tabular\n  settings:\n    format: csv\n    lable: num\nstrategy: { name: fedavg }\n";
        var plan = PlanParser.Parse(yaml, "p.yaml", StrategyRegistry.CreateDefault());

        var problems = PlanAppSettings.Problems("p.yaml", yaml, plan.App, AppCatalog.CreateDefault());

        var problem = Assert.Single(problems, p => p.Problem.Contains("is 'lable' a misspelling of it?", StringComparison.Ordinal));
        Assert.StartsWith("app.settings: app setting 'label' is missing", problem.Problem, StringComparison.Ordinal);
        Assert.Equal((6L, 5L), (problem.Line, problem.Column));
    }

    [Fact]
    public void An_app_that_cannot_train_under_the_plans_strategy_says_so_at_the_strategys_name()
    {
        const string yaml = "name: p\napp:\n  name: mnist\n  settings: { model: 2nn }\nstrategy:\n  name: scaffold\n";
        var plan = PlanParser.Parse(yaml, "p.yaml", StrategyRegistry.CreateDefault());

        var problem = Assert.Single(PlanAppSettings.Problems("p.yaml", yaml, plan.App, AppCatalog.CreateDefault(), plan.Strategy.Name));

        Assert.Equal((6L, 9L), (problem.Line, problem.Column));
        Assert.StartsWith("strategy.name: the mnist app does not keep SCAFFOLD's control variates", problem.Problem, StringComparison.Ordinal);
        // The same app under another strategy has nothing to say.
        Assert.Empty(PlanAppSettings.Problems("p.yaml", yaml.Replace("scaffold", "fedprox", StringComparison.Ordinal), plan.App, AppCatalog.CreateDefault(), "fedprox"));
    }

    private sealed class ThrowingChecker : IClientAppFactory, IValidatingClientApp
    {
        public string Name => "thrower";

        public IClientApp Create(ClientAppContext context) => throw new NotSupportedException();

        public IReadOnlyList<string> Validate(ClientAppContext context) => throw new InvalidOperationException("no data to look at");
    }
}
