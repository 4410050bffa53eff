using Microsoft.Playwright;

namespace Cohort.Dashboard.Tests.Infrastructure;

/// <summary>Debian's chromium driven by Playwright, headless; one browser for all tests, a fresh context per test.</summary>
public sealed class Browser : IAsyncLifetime
{
    /// <summary>Where Debian installs chromium (the test command installs it when missing).</summary>
    public const string Chromium = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    /// <summary>The browser.</summary>
    public IBrowser Instance { get; private set; } = null!;

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        if (!File.Exists(Chromium))
            throw new InvalidOperationException($"{Chromium} not found: install it with 'apt-get install -y chromium'");
        _playwright = await Playwright.CreateAsync();
        Instance = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        });
    }

    /// <summary>A fresh context (no cookies) that trusts the server's generated certificate.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var context = await Instance.NewContextAsync(new BrowserNewContextOptions
        {
            IgnoreHTTPSErrors = true,
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 },
            AcceptDownloads = true,
        });
        // A bound, not an assertion: generous because the two cores are shared with the other test assemblies.
        context.SetDefaultTimeout(30_000);
        return await context.NewPageAsync();
    }

    /// <summary>A page logged in with <paramref name="token"/> through the login form.</summary>
    public async Task<IPage> LoggedInAsync(Federation federation, string token)
    {
        var page = await NewPageAsync();
        await page.GotoAsync(new Uri(federation.Host.DashboardAddress!, "/login").ToString());
        await page.FillAsync("input[name=token]", token);
        await page.ClickAsync("#login button");
        // Logged in once the redirect's response is in (its cookie with it); every caller goes to its own page next.
        // Waiting for the overview's load event as well timed out once in a loaded CI run, after network idle; the first
        // login of the suite (a cold browser and server beside the other test projects on two cores) once took longer
        // than the default 30 s too, so this wait alone gets 90 s: what the tests check comes after it.
        await page.WaitForURLAsync(u => !u.Contains("/login", StringComparison.Ordinal), new PageWaitForURLOptions { WaitUntil = WaitUntilState.Commit, Timeout = 90_000 });
        return page;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (Instance is not null) await Instance.DisposeAsync();
        _playwright?.Dispose();
    }
}
