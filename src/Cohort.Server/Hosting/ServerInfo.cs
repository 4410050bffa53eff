using System.Reflection;

namespace Cohort.Server.Hosting;

/// <summary>Facts about this server build.</summary>
internal static class ServerInfo
{
    /// <summary>Version of the Cohort server assembly.</summary>
    public static string Version { get; } =
        typeof(ServerInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    /// <summary>When this process started.</summary>
    public static DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;
}
