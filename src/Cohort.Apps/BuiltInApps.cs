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
    /// The server's side of the built-in apps (the tabular app's statistics step and central
    /// evaluation); a relative <c>central_evaluation.file</c> is taken relative to <paramref name="baseDirectory"/>.
    /// In a simulation, <paramref name="dataset"/>'s held-out rows are what is evaluated centrally once statistics exist.
    /// </summary>
    public static IReadOnlyList<IServerApp> ServerApps(string baseDirectory, ISimulationDataset? dataset = null) =>
        [new TabularServerApp(baseDirectory) { HeldOut = dataset is TabularSimulationDataset t ? t.HeldOutRows : null }];

    /// <summary>The built-in factory called <paramref name="name"/> (case-insensitive), or null.</summary>
    public static IClientAppFactory? Find(string name) =>
        Factories().FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));
}
