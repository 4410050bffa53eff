using Cohort.Apps;
using Cohort.Strategies;

namespace Cohort.Cli.Plugins;

/// <summary>One loaded plugin assembly and what it offers.</summary>
/// <param name="File">The assembly's full path, as errors and logs name it.</param>
/// <param name="Strategies">Strategies from its <see cref="IStrategyProvider"/> types.</param>
/// <param name="Apps">Its <see cref="IClientAppFactory"/> types, created.</param>
internal sealed record Plugin(string File, IReadOnlyList<StrategyDescriptor> Strategies, IReadOnlyList<IClientAppFactory> Apps)
{
    /// <summary>"plugin NAME.dll", how errors name where something came from.</summary>
    public string Origin => $"plugin {Path.GetFileName(File)}";
}
