using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Cohort.Plans;

/// <summary>
/// A simulation's clients are fixed and known before round 1, and no other node can join: a selection asking for more
/// of them than there are could never be met, and the run would sit out <c>wait_for_nodes</c> before failing. These
/// are found from the plan alone, each at the setting's place in the plan text.
/// </summary>
internal static class SimulationSelectionLimits
{
    /// <summary>
    /// Every selection setting of <paramref name="plan"/> that its <c>simulation.clients</c> can never meet, as errors
    /// naming <paramref name="source"/>; none when the plan has no simulation section.
    /// </summary>
    public static IReadOnlyList<PlanException> Problems(Plan plan, string source)
    {
        if (plan.Simulation is not { } spec) return [];
        int clients = spec.Clients;
        var s = plan.Selection;
        var found = new List<(string Key, string Problem)>();
        string Clients() => $"the simulation's {clients} client{(clients == 1 ? "" : "s")} (simulation.clients)";
        if (s.MinAvailable > clients)
            found.Add(("min_available", $"selection.min_available: {N(s.MinAvailable)} is more than {Clients()}; no round could ever start"));
        // FedBuff sets its own selection (every arrival counts); only min_available holds it back.
        if (plan.Asynchronous is null)
        {
            if (s.MinFit > clients)
                found.Add(("min_fit", $"selection.min_fit: {N(s.MinFit)} is more than {Clients()}; no round could ever start"));
            if (s.FractionEvaluate > 0 && s.MinEvaluate > clients)
                found.Add(("min_evaluate", $"selection.min_evaluate: {N(s.MinEvaluate)} is more than {Clients()}; no round could ever have that many evaluation results"));
            // A round samples max(⌈fraction_fit × clients⌉, min_fit) of them, as NodeSampler does.
            int sampled = Math.Min(Math.Max((int)Math.Ceiling(s.FractionFit * clients - 1e-9), s.MinFit), clients);
            if (s.AcceptFirst is { } first && first > sampled && s.MinFit <= clients)
                found.Add(("accept_first", $"selection.accept_first: {N(first)} is more than the {N(sampled)} clients a round samples " +
                    $"(fraction_fit {s.FractionFit.ToString(CultureInfo.InvariantCulture)} of {Clients()}); a round could never close early"));
        }
        if (found.Count == 0) return [];
        var root = PlanYamlLoader.LoadRoot(plan.SourceText, source);
        var selection = YamlScalars.Child(root, "selection");
        var fallback = YamlScalars.Child(YamlScalars.Child(root, "simulation"), "clients");
        return [.. found.Select(f => (YamlScalars.Child(selection, f.Key) ?? fallback) is { } at
            ? new PlanException(source, at.Start.Line, at.Start.Column, f.Problem)
            : new PlanException(source, 0, 0, f.Problem))];
    }

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);
}
