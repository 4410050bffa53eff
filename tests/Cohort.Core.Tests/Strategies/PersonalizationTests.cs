using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Strategies;
using static Cohort.Tests.Strategies.StrategyTestKit;

namespace Cohort.Tests.Strategies;

/// <summary>PersonalizedStrategy (server) and PersonalizedClientApp (node).</summary>
public sealed class PersonalizationTests
{
    private static ParameterSet Two(float body, float head) =>
        new([Tensor.FromFloat32("body", [1], [body]), Tensor.FromFloat32("head", [1], [head])]);

    [Fact]
    public void The_server_aggregates_shared_tensors_only_and_keeps_its_copy_of_local_ones()
    {
        var strategy = new PersonalizedStrategy(new FedAvg(), new Personalization { Local = ["head"] });
        var global = Two(1, 7);

        var task = strategy.ConfigureFit(Round(), global, ["a"])[0];
        // The patterns travel in the typed task settings (Plan.TaskSettings), not in the app's config.
        Assert.False(task.Config.ContainsKey(PersonalizedClientApp.LocalParametersKey));
        Assert.Equal(["body"], task.ExpectedResult!.Select(t => t.Name));

        using var aggregation = strategy.BeginAggregateFit(Round(), global);
        aggregation.Add("a", new FitResult(new ParameterSet([Tensor.FromFloat32("body", [1], [3])]), 1, Metrics.Empty));
        aggregation.Add("b", new FitResult(new ParameterSet([Tensor.FromFloat32("body", [1], [5])]), 1, Metrics.Empty));
        var next = aggregation.Complete([]).Parameters;
        Assert.Equal(["body", "head"], next.Select(t => t.Name));
        Near([4f], Values(next, "body"));
        Near([7f], Values(next, "head"));
    }

    [Fact]
    public async Task A_node_keeps_its_trained_local_tensors_and_uses_them_to_train_and_evaluate()
    {
        var inner = new RecordingApp();
        var app = new PersonalizedClientApp(inner);
        var config = new Config([KeyValuePair.Create(PersonalizedClientApp.LocalParametersKey, Scalar.Of("head"))]);

        var first = await app.FitAsync(Two(1, 0), config, CancellationToken.None);
        Assert.Equal(["body"], first.Parameters.Select(t => t.Name));
        // The server's head (0) is replaced by the node's trained head (0 + 10).
        await app.FitAsync(Two(2, 0), config, CancellationToken.None);
        Assert.Equal(10f, inner.LastSeen!["head"].AsFloat32()[0]);
        await app.EvaluateAsync(Two(3, 0), config, CancellationToken.None);
        Assert.Equal(20f, inner.LastSeen!["head"].AsFloat32()[0]);
        Assert.Equal(3f, inner.LastSeen!["body"].AsFloat32()[0]);
    }

    [Fact]
    public async Task Without_local_parameters_in_the_config_a_node_passes_tasks_through()
    {
        var app = new PersonalizedClientApp(new RecordingApp());
        var result = await app.FitAsync(Two(1, 0), Config.Empty, CancellationToken.None);
        Assert.Equal(["body", "head"], result.Parameters.Select(t => t.Name));
    }

    /// <summary>Adds 1 to body and 10 to head on fit; remembers what it was given.</summary>
    private sealed class RecordingApp : IClientApp
    {
        public ParameterSet? LastSeen { get; private set; }

        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) => Task.FromResult(Two(0, 0));

        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            LastSeen = parameters;
            return Task.FromResult(new FitResult(Two(parameters["body"].AsFloat32()[0] + 1, parameters["head"].AsFloat32()[0] + 10), 1, Metrics.Empty));
        }

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct)
        {
            LastSeen = parameters;
            return Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
        }
    }
}
