using Cohort.Plans;
using Cohort.Records;
using Cohort.Sites;
using Cohort.Strategies;

namespace Cohort.Tests.Sites;

public sealed class SitePolicyTests
{
    private const string Example = """
        apps: [tabular]
        strategies: [fedavg, fedadam]
        max_rounds: 20
        max_local_epochs: 2
        max_local_steps: 100
        limits: { batch_size: 512 }
        require_differential_privacy: true
        min_noise_multiplier: 0.8
        """;

    private static readonly string PlanText = """
        name: t
        tags: [cardiology]
        app: { name: tabular, settings: { label: target } }
        strategy: { name: fedavg }
        rounds: 10
        train: { local_epochs: 2, batch_size: 64 }
        privacy: { clipping_norm: 1.0, noise_multiplier: 1.0 }
        """;

    private static Plan Plan(string text = "") => PlanParser.Parse(PlanText + text, "plan.yaml", StrategyRegistry.CreateDefault());

    private static string? Check(SitePolicy policy, Plan plan, string runId = "r1") =>
        policy.Refusal(runId, plan.App.Name, RunTerms.Of(plan), plan.FitConfig(1), plan.App.Settings);

    [Fact]
    public void A_run_inside_the_policy_is_accepted()
    {
        Assert.Null(Check(SitePolicyParser.Parse(Example, "site.yaml"), Plan()));
        Assert.Null(Check(SitePolicy.AllowAll, Plan()));
    }

    [Theory]
    [InlineData("strategy: { name: fedprox }", "strategy fedprox not in allowed [fedavg, fedadam]")]
    [InlineData("rounds: 21", "rounds 21 above the site's max_rounds 20")]
    [InlineData("train: { local_epochs: 3 }", "local_epochs 3 above the site's limit 2")]
    [InlineData("train: { local_steps: 2000000000 }", "local_steps 2000000000 above the site's limit 100")]
    [InlineData("train: { batch_size: 1024 }", "batch_size 1024 above the site's limit 512")]
    [InlineData("privacy: { clipping_norm: 1.0, noise_multiplier: 0.5 }", "noise multiplier 0.5 below the site's min_noise_multiplier 0.8")]
    public void Each_term_outside_the_policy_is_refused_with_its_reason(string replace, string reason)
    {
        string key = replace[..replace.IndexOf(':', StringComparison.Ordinal)];
        string text = string.Join('\n', PlanText.Split('\n').Select(l => l.StartsWith(key + ":", StringComparison.Ordinal) ? replace : l));
        var plan = PlanParser.Parse(text, "plan.yaml", StrategyRegistry.CreateDefault());

        Assert.Equal(reason, Check(SitePolicyParser.Parse(Example, "site.yaml"), plan));
    }

    [Fact]
    public void Required_privacy_secure_aggregation_and_the_app_are_checked()
    {
        var noPrivacy = PlanParser.Parse(PlanText.Replace("privacy: { clipping_norm: 1.0, noise_multiplier: 1.0 }", "", StringComparison.Ordinal), "plan.yaml", StrategyRegistry.CreateDefault());
        Assert.Equal("the run uses no differential privacy (require_differential_privacy: true)", Check(SitePolicyParser.Parse(Example, "site.yaml"), noPrivacy));
        Assert.Equal("the run does not use secure aggregation (require_secure_aggregation: true)", Check(new SitePolicy { RequireSecureAggregation = true }, Plan()));
        Assert.Equal("app tabular not in allowed [mnist]", Check(new SitePolicy { Apps = ["mnist"] }, Plan()));
    }

    [Fact]
    public void Without_server_start_only_runs_the_operator_listed_or_tagged_are_trained()
    {
        var closed = SitePolicyParser.Parse("allow_server_start: false\nruns: [approved-run]\n", "site.yaml");
        Assert.StartsWith("the site does not let the server start its training (allow_server_start: false) and run r1 is not approved", Check(closed, Plan()));
        Assert.Null(Check(closed, Plan(), runId: "approved-run"));

        var tagged = SitePolicyParser.Parse("allow_server_start: false\ntags: [cardiology]\n", "site.yaml");
        Assert.Null(Check(tagged, Plan()));
        Assert.Equal("run tags [cardiology] carry none of the allowed [oncology]", Check(SitePolicyParser.Parse("tags: [oncology]\n", "site.yaml"), Plan()));
        Assert.Equal("submitter unknown (the server names none) not in allowed [alice]", Check(SitePolicyParser.Parse("submitters: [alice]\n", "site.yaml"), Plan()));

        // Submitters are account names, which are case-sensitive: ALICE is not alice.
        var alicesOnly = SitePolicyParser.Parse("submitters: [alice]\n", "site.yaml");
        var plan = Plan();
        Assert.Null(alicesOnly.Refusal("r1", plan.App.Name, RunTerms.Of(plan, "alice"), plan.FitConfig(1), plan.App.Settings));
        Assert.Equal("submitter ALICE not in allowed [alice]", alicesOnly.Refusal("r1", plan.App.Name, RunTerms.Of(plan, "ALICE"), plan.FitConfig(1), plan.App.Settings));
    }

    [Fact]
    public void A_non_numeric_value_under_a_limit_is_refused_rather_than_ignored()
    {
        var policy = new SitePolicy { Limits = new Dictionary<string, double> { ["depth"] = 4 } };
        var settings = new Config([new("depth", Scalar.Of("deep"))]);

        Assert.Equal("depth deep is not a number (the site limits it to 4)", policy.Refusal("r", "tabular", new RunTerms { Strategy = "fedavg" }, Config.Empty, settings));
        Assert.Null(policy.Refusal("r", "tabular", new RunTerms { Strategy = "fedavg" }, Config.Empty, new Config([new("depth", Scalar.Of("3"))])));
    }

    [Theory]
    [InlineData("[64, 32]", null)]
    [InlineData("[64, 100000]", "hidden 64,100000 above the site's limit 65536")]
    [InlineData("[64, wide]", "hidden 64,wide is not a number (the site limits it to 65536)")]
    public void A_list_under_a_limit_is_as_large_as_its_largest_element(string hidden, string? reason)
    {
        var policy = SitePolicyParser.Parse("limits: { hidden: 65536 }\n", "site.yaml");
        var plan = PlanParser.Parse(PlanText.Replace("settings: { label: target }", $"settings: {{ label: target, model: mlp, hidden: {hidden} }}", StringComparison.Ordinal),
            "plan.yaml", StrategyRegistry.CreateDefault());

        Assert.Equal(reason, Check(policy, plan));
    }

    [Theory]
    [InlineData("strategies: [fedavg]\nmax_epochs: 2\n", "site.yaml:2:1: unknown key 'max_epochs' in site policy (allowed: apps, strategies,")]
    [InlineData("max_rounds: ten\n", "site.yaml:1:13: max_rounds: 'ten' is not an integer")]
    [InlineData("strategies: []\n", "site.yaml:1:13: strategies: an empty list would refuse every run")]
    [InlineData("limits: { batch_size: big }\n", "site.yaml:1:23: limits.batch_size: 'big' is not a number")]
    [InlineData("max_local_epochs: 2\nlimits: { local_epochs: 3 }\n", "site.yaml:1:1: max_local_epochs: also given as limits.local_epochs; keep one")]
    [InlineData("max_local_steps: 2\nlimits: { local_steps: 3 }\n", "site.yaml:1:1: max_local_steps: also given as limits.local_steps; keep one")]
    [InlineData("require_differential_privacy: yes please\n", "site.yaml:1:31: require_differential_privacy: 'yes please' is not allowed (allowed: true, false)")]
    [InlineData("max_model_bytes: 0\n", "site.yaml:1:18: max_model_bytes: 0")]
    [InlineData("max_model_bytes: 4 GiB\n", "site.yaml:1:18: max_model_bytes: '4 GiB' is not an integer")]
    [InlineData("- fedavg\n", "site.yaml:1:1: site policy: expected a mapping of site policy keys")]
    [InlineData("", "site.yaml: the site policy is empty")]
    [InlineData("max_rounds: 5\nlimits: { batch_size: 8 }\nmax_rounds: 6\n", "site.yaml:3:1: duplicate key 'max_rounds' in site policy, first given at line 1")]
    public void A_bad_policy_file_is_refused_naming_file_line_and_key(string yaml, string message)
    {
        var e = Assert.Throws<SitePolicyException>(() => SitePolicyParser.Parse(yaml, "site.yaml"));

        Assert.StartsWith("site policy ", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void A_site_naming_its_data_sets_trains_only_on_them_and_never_on_unnamed_data()
    {
        var policy = SitePolicyParser.Parse("datasets: [cardiology, cardiology-v2]", "site.yaml");

        Assert.Null(Check(policy, Plan("\ndataset: cardiology")));
        Assert.Equal("data set oncology not in allowed [cardiology, cardiology-v2]", Check(policy, Plan("\ndataset: oncology")));
        Assert.Equal("the run names no data set, and the site trains only on [cardiology, cardiology-v2] (datasets)", Check(policy, Plan()));
    }

    [Fact]
    public void Minimums_refuse_a_batch_too_small_to_hide_a_row_and_vocabularies_that_name_rare_values()
    {
        var policy = SitePolicyParser.Parse("minimums: { batch_size: 32, min_category_count: 5 }", "site.yaml");
        var plan = PlanParser.Parse(PlanText.Replace("label: target", "label: target, min_category_count: 5, hidden: [64, 8], model: mlp"), "plan.yaml", StrategyRegistry.CreateDefault());

        Assert.Null(Check(policy, plan));
        Assert.Equal("the run does not set min_category_count, and the site's minimum is 5 (set it in the plan)", Check(policy, Plan()));
        Assert.Equal("hidden 64,8 below the site's minimum 16", Check(SitePolicyParser.Parse("minimums: { hidden: 16 }", "site.yaml"), plan));
        Assert.Equal("batch_size 1 below the site's minimum 32", Check(policy, PlanParser.Parse(PlanText.Replace("batch_size: 64", "batch_size: 1"), "plan.yaml", StrategyRegistry.CreateDefault())));
        Assert.Equal("min_category_count 1 below the site's minimum 5",
            Check(policy, PlanParser.Parse(PlanText.Replace("label: target", "label: target, min_category_count: 1"), "plan.yaml", StrategyRegistry.CreateDefault())));
    }

    [Fact]
    public void Max_model_bytes_is_read_in_bytes()
    {
        Assert.Equal(4L << 30, SitePolicyParser.Parse("max_model_bytes: 4294967296\n", "site.yaml").MaxModelBytes);
        Assert.Null(SitePolicyParser.Parse("max_rounds: 5\n", "site.yaml").MaxModelBytes);
    }

    [Fact]
    public void The_example_site_policy_in_the_repository_parses()
    {
        var policy = SitePolicyParser.Load(Path.Combine(RepositoryPaths.Root, "examples", "site-policy.yaml"));

        Assert.NotNull(policy.Strategies);
        Assert.True(policy.Limits.ContainsKey("local_epochs"));
    }
}
