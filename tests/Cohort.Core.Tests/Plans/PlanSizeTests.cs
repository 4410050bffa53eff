using System.Diagnostics;
using System.Text;
using Cohort.Plans;
using Cohort.Sites;
using Cohort.Strategies;

namespace Cohort.Core.Tests.Plans;

/// <summary>
/// Plans and site policies small in bytes but huge once read: nesting deep enough to overflow the stack of the recursive
/// reader (which would end the server, not the request), and aliases that stand for a billion values.
/// </summary>
public sealed class PlanSizeTests
{
    private const string Head = "name: t\napp: { name: empty }\nstrategy: { name: fedavg }\n";

    private static Plan Parse(string yaml) => PlanParser.Parse(yaml, "plan.yaml", StrategyRegistry.CreateDefault());

    // app.settings.deep nested `levels` levels in flow style: about 2 bytes a level.
    private static string Deep(int levels) =>
        Head.Replace("app: { name: empty }", "app:\n  name: empty\n  settings:\n    deep: " + new string('[', levels) + new string(']', levels), StringComparison.Ordinal);

    [Fact]
    public void A_plan_nested_fifty_thousand_levels_deep_is_refused_where_it_goes_too_deep()
    {
        // 100 KB, far below the plan size limit; read recursively, it overflows the stack and ends the process.
        var e = Assert.Throws<PlanException>(() => Parse(Deep(50_000)));

        Assert.Contains($"more than {PlanYamlLoader.MaxDepth} levels deep", e.Message);
        Assert.Contains("plan.yaml:5:", e.Message); // the line of app.settings.deep
    }

    [Fact]
    public void Nesting_up_to_the_limit_is_read()
    {
        var nested = new StringBuilder("app:\n  name: empty\n  settings:\n");
        // settings (1) and its mapping levels below (MaxDepth - 2 more): the top mapping is the first level.
        string indent = "    ";
        for (int i = 0; i < PlanYamlLoader.MaxDepth - 3; i++, indent += "  ") nested.Append(indent).Append('k').Append(i).Append(":\n");
        nested.Append(indent).Append("leaf: 1\n");
        var plan = Parse(Head.Replace("app: { name: empty }\n", nested.ToString(), StringComparison.Ordinal));

        Assert.Single(plan.App.Settings);
    }

    [Fact]
    public void Aliases_that_stand_for_a_billion_values_are_refused_at_once()
    {
        var yaml = new StringBuilder(Head.Replace("app: { name: empty }\n", "", StringComparison.Ordinal));
        yaml.Append("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 9; i++)
            yaml.Append($"a{i}: &a{i} [").Append(string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))).Append("]\n");
        yaml.Append("app:\n  name: empty\n  settings:\n    boom: { x: *a8 }\n");
        var clock = Stopwatch.StartNew();

        var e = Assert.Throws<PlanException>(() => Parse(yaml.ToString()));

        Assert.Contains("more than 100,000 values once its aliases (*name) are expanded", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"refused after {clock.Elapsed.TotalSeconds:0.0}s");
    }

    [Fact]
    public void An_alias_inside_the_mapping_it_names_is_refused_rather_than_followed_forever()
    {
        var e = Assert.Throws<PlanException>(() => Parse("name: t\napp: {name: empty, settings: &s {a: *s}}\nstrategy: { name: fedavg }\n"));

        Assert.Contains("the alias *s refers to a mapping or list that contains it", e.Message);
    }

    [Fact]
    public void Aliases_that_nest_deeper_than_the_limit_once_expanded_are_refused()
    {
        // Each anchor is 40 levels deep and holds the one before it: 80 levels once *b is expanded, in few values.
        string Nest(string inner) => new string('[', 39) + inner + new string(']', 39);
        string yaml = Head.Replace("app: { name: empty }\n", "", StringComparison.Ordinal)
            + $"a: &a {Nest("[1]")}\nb: &b {Nest("[*a]")}\napp:\n  name: empty\n  settings:\n    deep: *b\n";

        var e = Assert.Throws<PlanException>(() => Parse(yaml));

        Assert.Contains($"more than {PlanYamlLoader.MaxDepth} levels deep (aliases expanded)", e.Message);
    }

    [Fact]
    public void A_plan_with_a_few_aliases_is_read_as_before()
    {
        var plan = Parse("""
            name: t
            app:
              name: empty
              settings:
                rate: &r 0.1
                layers: &l [4, 2]
                again: *l
            strategy: { name: fedavg }
            config:
              rate: *r
            """);

        Assert.Equal("4,2", plan.App.Settings["again"].ToString());
        Assert.Equal(0.1, plan.RoundConfig["rate"].AsDouble());
    }

    [Fact]
    public void Editing_a_plan_nested_too_deep_is_refused_before_it_is_read()
    {
        // The dashboard's run form sets fields of a pasted plan's text before the plan is parsed.
        var e = Assert.Throws<PlanException>(() => PlanText.WithValues(Deep(50_000), [("rounds", "3")]));
        Assert.Contains($"more than {PlanYamlLoader.MaxDepth} levels deep", e.Message);

        Assert.Throws<PlanException>(() => PlanText.WithList(Deep(50_000), "selection.nodes", ["a"]));
    }

    [Fact]
    public void A_site_policy_nested_too_deep_is_refused_the_same_way()
    {
        string policy = "apps: " + new string('[', 50_000) + new string(']', 50_000) + "\n";

        var e = Assert.Throws<SitePolicyException>(() => SitePolicyParser.Parse(policy, "policy.yaml"));

        Assert.Contains($"more than {PlanYamlLoader.MaxDepth} levels deep", e.Message);
    }
}
