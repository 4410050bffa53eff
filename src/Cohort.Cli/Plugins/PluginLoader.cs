using System.Reflection;
using System.Runtime.CompilerServices;
using Cohort.Apps;
using Cohort.Strategies;

namespace Cohort.Cli.Plugins;

/// <summary>
/// Loads plugin assemblies named on a process's own command line (never by a plan): each in its own
/// load context, every public concrete type implementing <see cref="IStrategyProvider"/> or
/// <see cref="IClientAppFactory"/> created with its parameterless constructor.
/// </summary>
internal static class PluginLoader
{
    private static readonly System.Collections.Concurrent.ConcurrentQueue<string> LoadedFiles = new();

    /// <summary>The plugin files this process loaded, in order (named when one of them fails to find a dependency).</summary>
    public static IReadOnlyCollection<string> Loaded => LoadedFiles;

    /// <summary>Loads <paramref name="path"/>; throws <see cref="CliException"/> naming the file and what is wrong.</summary>
    public static Plugin Load(string path)
    {
        string file = Path.GetFullPath(path);
        if (Directory.Exists(file)) throw new CliException($"--plugin {path}: is a folder; name the plugin's .dll inside it");
        if (!File.Exists(file)) throw new CliException($"--plugin {path}: file not found");
        // A Native AOT build (deploy/publish.sh --aot) compiles everything ahead of time and cannot load assemblies.
        if (!RuntimeFeature.IsDynamicCodeSupported)
            throw new CliException($"--plugin {path}: this cohort is a Native AOT build, which cannot load plugins; use the trimmed build (deploy/publish.sh) or the tool");
        Assembly assembly;
        try
        {
            assembly = new PluginLoadContext(file).LoadFromAssemblyPath(file);
        }
        catch (BadImageFormatException)
        {
            throw new CliException($"--plugin {path}: not a .NET assembly");
        }
        catch (FileLoadException e)
        {
            throw new CliException($"--plugin {path}: cannot be loaded ({e.Message})");
        }

        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (Exception e) when (e is ReflectionTypeLoadException or FileNotFoundException or FileLoadException or TypeLoadException)
        {
            throw new CliException($"--plugin {path}: its types cannot be loaded ({e.Message}); build it against this version of Cohort");
        }
        var strategies = new List<StrategyDescriptor>();
        var apps = new List<IClientAppFactory>();
        foreach (var type in types.Where(t => t is { IsClass: true, IsAbstract: false, ContainsGenericParameters: false }))
        {
            bool isProvider = typeof(IStrategyProvider).IsAssignableFrom(type), isApp = typeof(IClientAppFactory).IsAssignableFrom(type);
            if (!isProvider && !isApp) continue;
            object instance = Create(path, type);
            if (instance is IStrategyProvider provider) strategies.AddRange(StrategiesOf(path, type, provider));
            if (instance is IClientAppFactory app) apps.Add(app);
        }
        if (strategies.Count == 0 && apps.Count == 0)
            throw new CliException($"--plugin {path}: no public type implements {nameof(IStrategyProvider)} or {nameof(IClientAppFactory)}, so it offers nothing to register");
        LoadedFiles.Enqueue(file);
        return new Plugin(file, strategies, apps);
    }

    private static IReadOnlyList<StrategyDescriptor> StrategiesOf(string path, Type type, IStrategyProvider provider)
    {
        IReadOnlyList<StrategyDescriptor>? declared;
        try
        {
            declared = provider.Strategies?.ToArray();
        }
        catch (Exception e)
        {
            throw new CliException($"--plugin {path}: {type.FullName}.{nameof(IStrategyProvider.Strategies)} failed: {e.Message}");
        }
        if (declared is null || declared.Any(d => d is null))
            throw new CliException($"--plugin {path}: {type.FullName}.{nameof(IStrategyProvider.Strategies)} gave null where it must give strategy descriptors");
        return declared;
    }

    private static object Create(string path, Type type)
    {
        if (type.GetConstructor(Type.EmptyTypes) is null)
            throw new CliException($"--plugin {path}: {type.FullName} needs a public parameterless constructor");
        try
        {
            return Activator.CreateInstance(type)!;
        }
        catch (TargetInvocationException e)
        {
            throw new CliException($"--plugin {path}: creating {type.FullName} failed: {e.InnerException?.Message ?? e.Message}");
        }
    }
}
