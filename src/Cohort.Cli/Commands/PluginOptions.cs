using System.CommandLine;
using Cohort.Cli.Plugins;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary>The <c>--plugin</c> option of the commands that run strategies or client apps, and loading what it names.</summary>
internal static class PluginOptions
{
    /// <summary>A new <c>--plugin</c> option.</summary>
    public static Option<string[]> Create() => new("--plugin")
    {
        Description = "Plugin assembly (.dll) whose public IStrategyProvider and IClientAppFactory types are registered by name (repeatable); plans can only name what is registered",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>
    /// Loads every plugin in <paramref name="paths"/> and registers its strategies into <paramref name="strategies"/>
    /// and its apps into <paramref name="apps"/> (either may be null when the process runs no such thing).
    /// </summary>
    public static IReadOnlyList<Plugin> Load(string[]? paths, StrategyRegistry? strategies, AppCatalog? apps)
    {
        var loaded = new List<Plugin>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in paths ?? [])
        {
            if (!seen.Add(Path.GetFullPath(path))) throw new CliException($"--plugin {path}: given twice");
            var plugin = PluginLoader.Load(path);
            foreach (var s in plugin.Strategies)
            {
                try
                {
                    strategies?.Register(s, plugin.Origin);
                }
                catch (ArgumentException e)
                {
                    throw new CliException($"--plugin {path}: {e.Message}");
                }
            }
            foreach (var a in plugin.Apps)
            {
                try
                {
                    apps?.Add(a, plugin.Origin);
                }
                catch (CliException e)
                {
                    throw new CliException($"--plugin {path}: {e.Message}");
                }
            }
            loaded.Add(plugin);
        }
        return loaded;
    }
}
