using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// A client app factory that can also run as virtual clients in a simulation: it loads the plan's
/// <c>simulation.data</c> once, and <see cref="IClientAppFactory.Create"/> then builds a client over a
/// <see cref="ClientAppContext.Partition"/> of it.
/// </summary>
public interface ISimulationAppFactory : IClientAppFactory
{
    /// <summary>Loads the shared data set; throws with a message naming the setting or file that is wrong.</summary>
    ISimulationDataset LoadDataset(SimulationDataContext context);
}

/// <summary>What a simulation tells an app about the data it should load.</summary>
/// <param name="AppSettings">The plan's <c>app.settings</c>.</param>
/// <param name="Data">The plan's <c>simulation.data</c>, flattened (a single value arrives as key <c>path</c>).</param>
/// <param name="BaseDirectory">Folder relative paths are resolved against (the plan's folder).</param>
/// <param name="Seed">The plan's seed, for synthetic data and splits.</param>
public sealed record SimulationDataContext(Config AppSettings, Config Data, string BaseDirectory, long Seed)
{
    /// <summary>Resolves a path from the settings against <see cref="BaseDirectory"/>.</summary>
    public string Resolve(string path) => Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(BaseDirectory, path));
}
