using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;

namespace Cohort.Tests.Strategies;

/// <summary>Every built-in strategy is reachable by name from a plan, with its parameters checked.</summary>
public sealed class StrategyRegistryTests
{
    [Theory]
    [InlineData("fedavg")]
    [InlineData("fedavgm")]
    [InlineData("fedprox")]
    [InlineData("fedadam")]
    [InlineData("fedyogi")]
    [InlineData("fedadagrad")]
    [InlineData("qfedavg")]
    [InlineData("scaffold")]
    [InlineData("fedmedian")]
    [InlineData("fedtrimmedavg")]
    [InlineData("krum")]
    [InlineData("bulyan")]
    public void Each_built_in_strategy_is_created_by_its_plan_name(string name)
    {
        var strategy = StrategyRegistry.CreateDefault().Create(name, Cohort.Records.Config.Empty, StrategyServices.None);
        Assert.Equal(name, strategy.Name);
    }

    [Fact]
    public void A_plan_names_a_strategy_and_its_parameters()
    {
        var plan = PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: fedadam\n  params:\n    server_learning_rate: 0.05\n    tau: 0.0001\n", "p.yaml", StrategyRegistry.CreateDefault());
        Assert.Equal("fedadam", plan.Strategy.Name);
        Assert.Equal(0.05, plan.Strategy.Parameters.GetDouble("server_learning_rate", 0));
    }

    [Fact]
    public void An_unknown_parameter_is_refused_at_its_line_with_the_allowed_keys()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: krum\n  params:\n    f: 2\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(6, e.Line);
        Assert.Contains("strategy 'krum' has no parameter 'f' (it takes: byzantine, keep, memory_limit_mb)", e.Message);
    }

    [Fact]
    public void A_parameter_value_out_of_range_is_refused_at_its_line()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: fedtrimmedavg\n  params:\n    beta: 0.7\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(6, e.Line);
        Assert.Contains("params.beta is 0.7, must be a number in [0, 0.5)", e.Message);
    }

    [Fact]
    public void A_strategy_that_takes_no_parameters_refuses_one_naming_the_key_and_line()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: fedavg\n  params:\n    server_lr: 0.1\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal((6, 5), (e.Line, e.Column));
        Assert.Equal("strategy 'fedavg' has no parameter 'server_lr' (it takes none)", e.Problem);
    }

    [Fact]
    public void A_misspelt_parameter_gets_the_nearest_name()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: fedadam\n  params:\n    server_learning_rat: 0.1\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal("strategy 'fedadam' has no parameter 'server_learning_rat' (it takes: server_learning_rate, beta_1, beta_2, tau) (did you mean 'server_learning_rate'?)", e.Problem);
    }

    [Fact]
    public void A_value_of_the_wrong_type_is_refused_at_its_value()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy:\n  name: krum\n  params:\n    keep: 1.5\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal((6, 11), (e.Line, e.Column));
        Assert.Equal("strategy 'krum': params.keep is 1.5, must be an integer >= 1", e.Problem);
    }

    [Fact]
    public void Creating_through_the_registry_checks_the_declared_parameters()
    {
        var e = Assert.Throws<StrategyParameterException>(() =>
            StrategyRegistry.CreateDefault().Create("fedavgm", new Config([KeyValuePair.Create("server_momentum", Scalar.Of(1.0))]), StrategyServices.None));
        Assert.Equal("server_momentum", e.Key);
        Assert.Equal("strategy 'fedavgm': params.server_momentum is 1, must be a number in [0, 1)", e.Message);
    }

    [Fact]
    public void Every_built_in_declares_the_defaults_its_constructor_uses()
    {
        // The declaration is what users read (cohort strategies list, docs): each numeric default must be what an empty params section gives.
        var checks = new (string Strategy, string Key, Func<IStrategy, double> Actual)[]
        {
            ("fedavgm", "server_learning_rate", s => ((FedAvgM)s).LearningRate),
            ("fedavgm", "server_momentum", s => ((FedAvgM)s).Momentum),
            ("fedprox", "proximal_mu", s => ((FedProx)s).ProximalMu),
            ("fedadam", "server_learning_rate", s => ((FedOpt)s).LearningRate),
            ("fedadam", "beta_1", s => ((FedOpt)s).Beta1),
            ("fedadam", "beta_2", s => ((FedOpt)s).Beta2),
            ("fedadam", "tau", s => ((FedOpt)s).Tau),
            ("qfedavg", "q", s => ((QFedAvg)s).Q),
            ("scaffold", "server_learning_rate", s => ((Scaffold)s).LearningRate),
            ("fedtrimmedavg", "beta", s => ((FedTrimmedAvg)s).Beta),
            ("krum", "byzantine", s => ((Krum)s).Byzantine),
            ("krum", "keep", s => ((Krum)s).Keep),
            ("bulyan", "byzantine", s => ((Bulyan)s).Byzantine),
        };
        var registry = StrategyRegistry.CreateDefault();
        foreach (var (strategy, key, actual) in checks)
        {
            var declared = registry.Get(strategy).Parameter(key)!;
            Assert.Equal(double.Parse(declared.Default, System.Globalization.CultureInfo.InvariantCulture), actual(registry.Create(strategy, Config.Empty, StrategyServices.None)));
        }
    }

    [Fact]
    public void Capabilities_decide_which_plans_a_strategy_may_join()
    {
        var registry = StrategyRegistry.CreateDefault();
        Assert.Equal(["fedavg", "fedprox"], registry.NamesWith(StrategyCapabilities.Asynchronous));
        Assert.DoesNotContain("scaffold", registry.NamesWith(StrategyCapabilities.Personalization));
        Assert.Equal(["bulyan", "fedmedian", "fedtrimmedavg", "krum"], registry.NamesWith(StrategyCapabilities.NeedsEveryUpdate));
        Assert.All(registry.Descriptors, d => Assert.False(d.Has(StrategyCapabilities.SumBased | StrategyCapabilities.NeedsEveryUpdate), d.Name));
        // Stateful declarations match the checkpoint hook.
        Assert.All(registry.Descriptors, d => Assert.Equal(d.Has(StrategyCapabilities.Stateful), registry.Create(d.Name, Config.Empty, StrategyServices.None) is IStatefulStrategy));
    }

    [Fact]
    public void A_plan_using_personalization_with_a_strategy_that_cannot_is_refused()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy: {name: scaffold}\npersonalization: {local: [head]}\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(4, e.Line);
        Assert.StartsWith("personalization: not supported with strategy 'scaffold' (allowed: bulyan, fedadagrad", e.Problem);
    }

    [Fact]
    public void Registering_a_name_twice_names_both_origins()
    {
        var registry = StrategyRegistry.CreateDefault();
        var e = Assert.Throws<ArgumentException>(() => registry.Register(FedAvg.Descriptor with { Name = "FedAvg" }, "plugin mine.dll"));
        Assert.Equal("strategy 'FedAvg' from plugin mine.dll clashes with strategy 'fedavg' from built-in", e.Message);
    }

    [Fact]
    public void A_strategy_whose_factory_throws_is_a_plan_error_naming_it_and_its_origin()
    {
        var registry = StrategyRegistry.CreateDefault();
        registry.Register(FedAvg.Descriptor with { Name = "boomavg", Create = (_, _) => throw new InvalidOperationException("factory boom") }, "plugin boom.dll");
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy: {name: boomavg}\n", "p.yaml", registry));
        Assert.Equal(3, e.Line);
        Assert.Equal("strategy.name: strategy 'boomavg' (plugin boom.dll) could not be created: factory boom", e.Problem);
    }

    [Fact]
    public void A_config_proximal_mu_beside_fedprox_is_refused_and_beside_another_strategy_reaches_the_nodes()
    {
        var e = Assert.Throws<PlanException>(() => PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy: {name: fedprox}\nconfig:\n  proximal_mu: 7\n", "p.yaml", StrategyRegistry.CreateDefault()));
        Assert.Equal(5, e.Line);
        Assert.Equal("config.proximal_mu: strategy 'fedprox' sets it in every fit config from strategy.params.proximal_mu; set it there", e.Problem);
        var plan = PlanParser.Parse("name: t\napp: {name: tabular}\nstrategy: {name: fedadam}\nconfig:\n  proximal_mu: 7\n", "p.yaml", StrategyRegistry.CreateDefault());
        Assert.Equal(7, plan.FitConfig(1).GetDouble("proximal_mu", 0));
    }

    [Fact]
    public void A_descriptor_a_plan_cannot_name_or_with_a_parameter_twice_is_refused()
    {
        var registry = StrategyRegistry.CreateDefault();
        Assert.Equal("strategy '' from plugin p.dll: a name needs letters, digits, '-', '_' or '.' only, and at least one",
            Assert.Throws<ArgumentException>(() => registry.Register(FedProx.Descriptor with { Name = "" }, "plugin p.dll")).Message);
        Assert.Contains("strategy 'my avg' from plugin p.dll: a name needs",
            Assert.Throws<ArgumentException>(() => registry.Register(FedProx.Descriptor with { Name = "my avg" }, "plugin p.dll")).Message);
        var twice = FedProx.Descriptor with { Name = "prox2", Parameters = [.. FedProx.Descriptor.Parameters, .. FedProx.Descriptor.Parameters] };
        Assert.Equal("strategy 'prox2' from plugin p.dll declares parameter 'proximal_mu' 2 times",
            Assert.Throws<ArgumentException>(() => registry.Register(twice, "plugin p.dll")).Message);
    }

    [Fact]
    public void A_pipe_in_a_summary_does_not_break_the_markdown_table()
    {
        var registry = StrategyRegistry.CreateDefault();
        registry.Register(FedAvg.Descriptor with { Name = "piped", Summary = "a | b" }, "plugin p.dll");
        string row = StrategyCatalog.Markdown(registry).Split('\n').Single(l => l.StartsWith("| `piped`", StringComparison.Ordinal));
        Assert.Contains("| a \\| b |", row);
        Assert.Equal(6, row.Replace("\\|", "", StringComparison.Ordinal).Count(c => c == '|'));
    }

    [Fact]
    public void The_table_in_the_strategy_docs_is_the_registry()
    {
        string docs = File.ReadAllText(RepositoryPaths.Combine("docs", "strategies.md"));
        // Regenerate with: bash docs/gen-strategies.sh
        Assert.Contains("<!-- registry:begin -->\n" + StrategyCatalog.Markdown(StrategyRegistry.CreateDefault()) + "<!-- registry:end -->", docs);
    }
}
