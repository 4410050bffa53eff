using Cohort.Parameters;
using Cohort.Records;
using Cohort.Strategies;
using static Cohort.Tests.Strategies.StrategyTestKit;

namespace Cohort.Tests.Strategies;

/// <summary>FedProx, q-FedAvg and SCAFFOLD.</summary>
public sealed class FairnessAndDriftTests
{
    [Fact]
    public void FedProx_sends_mu_in_every_fit_config_and_averages_like_FedAvg()
    {
        var strategy = new FedProx(Params(("proximal_mu", 0.5)));
        var tasks = strategy.ConfigureFit(Round(), Model(1), ["a", "b"]);
        Assert.Equal(2, tasks.Count);
        Assert.All(tasks, t => Assert.Equal(0.5, t.Config.GetDouble(FedProx.ProximalMuKey, -1)));
        Assert.All(tasks, t => Assert.Equal(0.1, t.Config.GetDouble("learning_rate", -1)));
        Near([3.5f], Values(Aggregate(strategy, Model(0), Fit([2], 1), Fit([4], 3))));
    }

    [Fact]
    public void QFedAvg_weighs_nodes_by_their_loss_to_the_power_q()
    {
        // q = 1, L = 1/lr = 10, global [0,0]. Node a: [1,0], loss 2 → Δ = 2·10·[−1,0] = [−20,0], h = 1·1·100 + 10·2 = 120.
        // Node b: [0,1], loss 1 → Δ = [0,−10], h = 100 + 10 = 110. New model = −ΣΔ/Σh = [20,10]/230.
        var strategy = new QFedAvg(Params(("q", 1.0)));
        var x = Aggregate(strategy, Round(learningRate: 0.1), Model(0, 0), Fit([1, 0], 5, initialLoss: 2), Fit([0, 1], 5, initialLoss: 1));
        Near([20f / 230, 10f / 230], Values(x));
    }

    [Fact]
    public void QFedAvg_names_the_node_without_a_loss_metric()
    {
        using var aggregation = new QFedAvg(Config.Empty).BeginAggregateFit(Round(), Model(0));
        var e = Assert.Throws<AggregationException>(() => aggregation.Add("site-7", Fit([1])));
        Assert.Contains("site-7", e.Message);
        Assert.Contains("initial_train_loss", e.Message);
    }

    [Fact]
    public void Scaffold_sends_the_server_control_variate_and_expects_control_deltas_back()
    {
        var strategy = new Scaffold(Config.Empty);
        var global = Model(1);
        var tasks = strategy.ConfigureFit(Round(), global, ["a", "b"]);

        var sent = tasks[0].Parameters;
        Assert.Equal(["w", "scaffold/c/w"], sent.Select(t => t.Name));
        Assert.Equal([0f], Values(sent, "scaffold/c/w"));
        Assert.True(ScaffoldTensors.IsScaffoldTask(sent));
        Assert.Equal(["w", "scaffold/dc/w"], tasks[0].ExpectedResult!.Select(t => t.Name));

        // Two of two nodes: x = 1 + 1·(mean(3,5) − 1) = 4; c = 0 + (0.5 + 1.5)/2 = 1.
        var x = Aggregate(strategy, global, ScaffoldFit(3, 0.5f), ScaffoldFit(5, 1.5f));
        Near([4f], Values(x));
        Near([1f], Values(strategy.ConfigureFit(Round(2), x, ["a", "b"])[0].Parameters, "scaffold/c/w"));
    }

    [Fact]
    public void Scaffold_scales_the_control_update_by_the_sampled_share_of_nodes()
    {
        var strategy = new Scaffold(Params(("server_learning_rate", 0.5)));
        // Four nodes available, one result: c = 2/4; x = 0 + 0.5·(2 − 0) = 1.
        strategy.ConfigureFit(Round(), Model(0), ["a", "b", "c", "d"]);
        var x = Aggregate(strategy, Model(0), ScaffoldFit(2, 2f));
        Near([1f], Values(x));
        Near([0.5f], Values(strategy.Control!));
    }

    [Fact]
    public void Scaffold_refuses_a_result_without_control_deltas()
    {
        var strategy = new Scaffold(Config.Empty);
        strategy.ConfigureFit(Round(), Model(0), ["a"]);
        using var aggregation = strategy.BeginAggregateFit(Round(), Model(0));
        var e = Assert.Throws<AggregationException>(() => aggregation.Add("a", Fit([1])));
        Assert.Contains("control-variate", e.Message);
    }

    private static Cohort.Apps.FitResult ScaffoldFit(float y, float dc) =>
        new(ScaffoldTensors.Result(Model(y), Model(dc)), 1, Metrics.Empty);
}
