using Cohort.Apps.Empty;
using Cohort.Apps.Mnist;
using Cohort.Apps.Tabular;

namespace Cohort.Apps;

/// <summary>The client apps that ship with Cohort, for a node to register by name.</summary>
public static class BuiltInApps
{
    /// <summary>A new instance of every built-in app factory.</summary>
    public static IReadOnlyList<IClientAppFactory> Factories() => [new TabularAppFactory(), new MnistAppFactory(), new EmptyAppFactory()];

    /// <summary>
    /// A server's side of the built-in apps (the tabular app's statistics step and central evaluation).
    /// A plan's <c>central_evaluation.file</c> must lie in <paramref name="evaluationFolder"/> (named relative
    /// to it, reached without links, at most 1 GiB): a plan's author cannot make the server read anything else.
    /// </summary>
    public static IReadOnlyList<IServerApp> ServerApps(string evaluationFolder) =>
        [new TabularServerApp(new EvaluationFolder(evaluationFolder, confined: true))];

    /// <summary>
    /// A simulation's side of the built-in apps: a plan's <c>central_evaluation.file</c> is taken relative to
    /// <paramref name="planFolder"/>, wherever it lies (the data is the user's own); without one,
    /// <paramref name="dataset"/>'s held-out rows are what is evaluated centrally once statistics exist.
    /// </summary>
    public static IReadOnlyList<IServerApp> SimulationServerApps(string planFolder, ISimulationDataset? dataset) =>
        [new TabularServerApp(new EvaluationFolder(planFolder, confined: false)) { HeldOut = dataset is TabularSimulationDataset t ? t.HeldOutRows : null }];

    /// <summary>The built-in factory called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static IClientAppFactory? Find(string name) =>
        Factories().FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));
}
