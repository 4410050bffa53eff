using Cohort.Apps;
using Cohort.Apps.Mnist;
using Cohort.Records;

namespace Cohort.Simulation.Tests;

public sealed class PartitionedAppFactoryTests
{
    private static ClientAppContext Node(string name, params (string Key, string Value)[] settings) =>
        new("run", name, new Config([KeyValuePair.Create("model", Scalar.Of("2nn"))]), new Config(settings.Select(s => KeyValuePair.Create(s.Key, Scalar.Of(s.Value)))));

    [Fact]
    public void A_deployed_node_given_a_plan_and_client_trains_on_exactly_that_clients_simulation_partition()
    {
        string plan = RepositoryPaths.Combine("examples", "mnist-non-iid", "plan.yaml");
        var factory = new PartitionedAppFactory(new MnistAppFactory());
        var app = Assert.IsType<MnistApp>(factory.Create(Node("site-b", (PartitionedAppFactory.PlanKey, plan), (PartitionedAppFactory.ClientKey, "agent02"))));

        var setup = PartitionedAppFactory.SetupOf(Path.GetFullPath(plan), new MnistAppFactory());
        int agent02 = setup.Names.ToList().IndexOf("agent02");
        Assert.Equal(setup.Partitions.SizeOf(agent02), app.TrainIndices.Length);
        var counts = app.Data.Train.ClassCounts(app.TrainIndices);
        Assert.Equal([4, 5, 6], counts.Select((n, digit) => (n, digit)).Where(x => x.n > 1000).Select(x => x.digit));
        Assert.Equal(app.Data.Train.ClassCounts()[5], counts[5]);

        var unknown = Assert.Throws<AppConfigurationException>(() => factory.Create(Node("x", (PartitionedAppFactory.PlanKey, plan), (PartitionedAppFactory.ClientKey, "agent09"))));
        Assert.Contains("clients: agent01, agent02, agent03", unknown.Message);
    }
}
