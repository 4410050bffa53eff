using System.Reflection;
using System.Runtime.Loader;

namespace Cohort.Cli.Plugins;

/// <summary>
/// The load context of one plugin assembly: its own dependencies come from beside it (its .deps.json),
/// while Cohort's assemblies and the framework come from the host, so the plugin's IStrategy and
/// IClientAppFactory are the host's types.
/// </summary>
internal sealed class PluginLoadContext(string path) : AssemblyLoadContext($"plugin {Path.GetFileName(path)}")
{
    private readonly AssemblyDependencyResolver _resolver = new(path);

    /// <inheritdoc />
    protected override Assembly? Load(AssemblyName assemblyName)
    {
        // Null falls back to the host: any assembly the host already has or ships must be shared, or the plugin's types would not match it.
        if (IsHostAssembly(assemblyName)) return null;
        return _resolver.ResolveAssemblyToPath(assemblyName) is { } file ? LoadFromAssemblyPath(file) : null;
    }

    /// <inheritdoc />
    protected override IntPtr LoadUnmanagedDll(string unmanagedDllName) =>
        _resolver.ResolveUnmanagedDllToPath(unmanagedDllName) is { } file ? LoadUnmanagedDllFromPath(file) : IntPtr.Zero;

    private static bool IsHostAssembly(AssemblyName name)
    {
        if (Default.Assemblies.Any(a => string.Equals(a.GetName().Name, name.Name, StringComparison.OrdinalIgnoreCase))) return true;
        // Not loaded yet but part of the host (framework or the cohort tool's own folder).
        string? host = Path.GetDirectoryName(typeof(PluginLoadContext).Assembly.Location);
        return host is not null && File.Exists(Path.Combine(host, name.Name + ".dll"))
            || (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") as string ?? "").Split(Path.PathSeparator)
                .Any(p => string.Equals(Path.GetFileNameWithoutExtension(p), name.Name, StringComparison.OrdinalIgnoreCase));
    }
}
