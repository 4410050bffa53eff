using Cohort.Clients;
using Cohort.Engine.State;
using Cohort.Server.Fleet;
using Cohort.Server.Observability;

namespace Cohort.Integration.Tests;

/// <summary>Failure metrics are labelled by the failure's kind, never by parsing its message.</summary>
public sealed class ServerMetricsTests
{
    private static NodeResultRecord Failed(FailureKind kind, string message) =>
        new("run", 1, "n", "fit", false, message, 0, null, Records.Metrics.Empty, 0, 0, DateTimeOffset.UtcNow, kind);

    [Fact]
    public void Rewording_a_failure_message_changes_no_metric_label()
    {
        var metrics = new ServerMetrics(new NodeRegistry(), new InMemoryStateStore());
        metrics.ObserveTask(Failed(FailureKind.Timeout, "no result within the round timeout of 3s"));
        metrics.ObserveTask(Failed(FailureKind.Timeout, "the node kept the round waiting too long"));
        // A message that reads like another kind is still counted under its own kind.
        metrics.ObserveTask(Failed(FailureKind.Rejected, "node offline (no heartbeat for 5s)"));

        Assert.Equal(2, metrics.Failures.WithLabels("timeout").Value);
        Assert.Equal(1, metrics.Failures.WithLabels("rejected").Value);
        Assert.Equal(0, metrics.Failures.WithLabels("offline").Value);
        Assert.Equal(0, metrics.Failures.WithLabels("other").Value);
    }

    [Fact]
    public void Every_failure_kind_has_its_own_bounded_label()
    {
        var labels = Enum.GetValues<FailureKind>().Select(ServerMetrics.FailureLabel).ToArray();

        Assert.Equal(labels.Length, labels.Distinct().Count());
        Assert.All(labels, l => Assert.Matches("^[a-z_]+$", l));
    }
}
