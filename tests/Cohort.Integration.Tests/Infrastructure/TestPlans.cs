using Cohort.Plans;

namespace Cohort.Integration.Tests.Infrastructure;

/// <summary>Plans used by the integration tests.</summary>
public static class TestPlans
{
    /// <summary>A plan for the empty app with the given selection.</summary>
    public static string Empty(int rounds, int minAvailable, int minFit, int minEvaluate = 0, string timeout = "30s", string? offlineGrace = null) => $$"""
        name: empty-test
        app: { name: empty }
        strategy: { name: fedavg }
        rounds: {{rounds}}
        selection: { min_available: {{minAvailable}}, min_fit: {{minFit}}, min_evaluate: {{minEvaluate}}, fraction_fit: 1.0, fraction_evaluate: {{(minEvaluate > 0 ? "1.0" : "0.0")}} }
        round_timeout: {{timeout}}
        wait_for_nodes: 30s
        {{(offlineGrace is null ? "" : $"failure: {{ offline_grace: {offlineGrace} }}")}}
        """;

    /// <summary>The heart-disease plan with fewer rounds and a selection for <paramref name="nodes"/> nodes.</summary>
    public static string Heart(int rounds, int nodes, int minFit) => PlanText.WithValues(Repo.HeartPlan,
    [
        ("rounds", rounds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("selection.min_available", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("selection.min_fit", minFit.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        ("selection.min_evaluate", "1"),
        ("wait_for_nodes", "30s"),
    ]);
}
