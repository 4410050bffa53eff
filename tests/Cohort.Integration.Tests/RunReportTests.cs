using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Transport.V1;

namespace Cohort.Integration.Tests;

/// <summary>The round line shows the figures the app reports and no placeholders for those it does not.</summary>
public sealed class RunReportTests
{
    [Fact]
    public void A_round_without_auc_shows_no_auc_and_one_with_it_does()
    {
        var round = Round(("accuracy", 0.9));
        string line = RunReport.RoundLine(round, 3);
        Assert.Contains("loss 0.250  acc 0.900", line, StringComparison.Ordinal);
        Assert.Contains("| loss/acc: a 0.300/0.900", line, StringComparison.Ordinal);
        Assert.DoesNotContain("auc", line, StringComparison.Ordinal);
        Assert.DoesNotContain(" 0.300/0.900/", line, StringComparison.Ordinal);

        line = RunReport.RoundLine(Round(("accuracy", 0.9), ("auc", 0.8)), 3);
        Assert.Contains("acc 0.900  auc 0.800", line, StringComparison.Ordinal);
        Assert.Contains("| loss/acc/auc: a 0.300/0.900/0.800", line, StringComparison.Ordinal);
    }

    private static RoundInfo Round(params (string Key, double Value)[] metrics)
    {
        var node = new NodeRoundResult { Node = "a", Phase = "evaluate", Ok = true, Loss = 0.3 };
        var round = new RoundInfo { Round = 1, Status = RoundStatus.Done.ToText(), Loss = 0.25 };
        foreach (var (key, value) in metrics)
        {
            round.Metrics[key] = new Scalar { DoubleValue = value };
            node.Metrics[key] = new Scalar { DoubleValue = value };
        }
        round.Nodes.Add(node);
        return round;
    }
}
