namespace Cohort.Dashboard.Tests.Infrastructure;

/// <summary>Absolute dashboard URLs of a federation's server.</summary>
public static class DashboardUrl
{
    /// <summary>The URL of <paramref name="path"/> on the dashboard listener.</summary>
    public static string Of(Federation f, string path) => new Uri(f.Host.DashboardAddress!, path).ToString();
}
