namespace Cohort.Dashboard.Tests.Infrastructure;

/// <summary>Absolute dashboard URLs of a federation's server.</summary>
public static class DashboardUrl
{
    /// <summary>The URL of <paramref name="path"/> on the dashboard listener.</summary>
    public static string Of(Federation f, string path) => new Uri(f.Host.DashboardAddress!, path).ToString();

    /// <summary>
    /// Waits until the page's address contains <paramref name="part"/>, after an action of the page that navigates. The
    /// address is polled: Playwright's wait for a URL that already matches waits for a load state instead, which a
    /// committed navigation may never report.
    /// </summary>
    public static async Task ReachedAsync(Microsoft.Playwright.IPage page, string part)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!page.Url.Contains(part, StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the page never reached an address with '{part}'; it is at {page.Url}");
            await Task.Delay(50);
        }
    }
}
