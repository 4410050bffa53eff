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
        // Logged in once the page has left /login: the redirect's response (and its cookie) is in, and every caller goes to its
        // own page next. Polled rather than waited for with WaitForURL, which waits for a load state of the page already there
        // when the redirect was quick; that wait ran out once in a loaded CI run although the page had left /login. The first
        // login of the suite (a cold browser and server beside the other test projects on two cores) can take more than
        // 30 s, so the bound is 90 s: what the tests check comes after it.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (page.Url.Contains("/login", StringComparison.Ordinal))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"still at {page.Url} 90 s after submitting the login form");
            await Task.Delay(50);
        }
        return page;
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        if (Instance is not null) await Instance.DisposeAsync();
        _playwright?.Dispose();
    }
}
