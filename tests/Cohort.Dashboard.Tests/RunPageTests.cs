using System.Globalization;
using Cohort.Dashboard.Tests.Infrastructure;
using Cohort.Engine.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Cohort.Dashboard.Tests;

/// <summary>The run page draws the run's stored numbers and serves its models.</summary>
[Collection(DashboardCollection.Name)]
public sealed class RunPageTests(Federation federation, Browser browser)
{
    private static async Task<double[]> ValuesAsync(IPage page, string selector) =>
        (await page.EvalOnSelectorAllAsync<string[]>(selector, "els => els.map(e => e.getAttribute('data-value'))"))
            .Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public async Task Metric_charts_draw_the_global_and_per_node_values_the_run_stored()
    {
        var ct = CancellationToken.None;
        var rounds = await federation.Store.ListRoundsAsync(federation.HeartRun, ct);
        var results = await federation.Store.ListNodeResultsAsync(federation.HeartRun, ct);
        Assert.Equal(Federation.HeartRounds, rounds.Count);

        var page = await browser.LoggedInAsync(federation, federation.Host.AdminToken);
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.HeartRun}"));

        // Training status: every failure with the node's own reason.
        var failures = results.Where(x => !x.Ok).ToArray();
        Assert.Equal(2 * rounds.Count, failures.Length);
        Assert.All(failures, f => Assert.Equal(Federation.BrokenHospital, f.Node));
        Assert.Equal(failures.Length, await page.Locator("#failures tr").CountAsync() - 1);
        Assert.Contains(failures[0].Error!, await page.TextContentAsync("#failures"), StringComparison.Ordinal);
        Assert.Contains("missing.data", failures[0].Error, StringComparison.Ordinal);

        await page.ClickAsync("a[data-tab=metrics]");
        Assert.True(await page.IsVisibleAsync("#chart-eval-loss"));

        Assert.Equal(rounds.Select(r => r.Loss!.Value), await ValuesAsync(page, "#chart-eval-loss g.federated circle"));
        Assert.Equal(rounds.Select(r => r.Metrics["accuracy"].AsDouble()), await ValuesAsync(page, "#chart-eval-accuracy g.federated circle"));
        Assert.Equal(rounds.Select(r => r.Metrics["auc"].AsDouble()), await ValuesAsync(page, "#chart-eval-auc g.federated circle"));
        // The tabular app's pooled PR-AUC and F1 are charted too, and have columns in the rounds table.
        Assert.Equal(rounds.Select(r => r.Metrics["pr_auc"].AsDouble()), await ValuesAsync(page, "#chart-eval-pr_auc g.federated circle"));
        Assert.Equal(rounds.Select(r => r.Metrics["f1"].AsDouble()), await ValuesAsync(page, "#chart-eval-f1 g.federated circle"));
        Assert.Contains("PR-AUC", await page.TextContentAsync("#rounds"), StringComparison.Ordinal);
        foreach (var node in Federation.Hospitals)
        {
            var expected = results.Where(x => x.Node == node && x.Phase == "evaluate").OrderBy(x => x.Round).Select(x => x.Metrics["accuracy"].AsDouble());
            Assert.Equal(expected, await ValuesAsync(page, $"#chart-eval-accuracy g.node[data-series='{node}'] circle"));
        }

        // Node curves can be hidden and shown again.
        var curve = page.Locator("#chart-eval-accuracy g[data-series='cleveland']");
        await page.Locator("#chart-eval-accuracy input[data-toggle='cleveland']").UncheckAsync();
        Assert.Contains("hidden", await curve.GetAttributeAsync("class"), StringComparison.Ordinal);
        await page.Locator("#chart-eval-accuracy input[data-toggle='cleveland']").CheckAsync();
        Assert.DoesNotContain("hidden", await curve.GetAttributeAsync("class") ?? "", StringComparison.Ordinal);

        // Parameters: the plan's hyperparameters.
        await page.ClickAsync("a[data-tab=parameters]");
        string hyper = (await page.TextContentAsync("#hyperparameters"))!;
        Assert.Contains("learning rate0.002", hyper, StringComparison.Ordinal);
        Assert.Contains("batch size4", hyper, StringComparison.Ordinal);
        Assert.Contains("local steps20", hyper, StringComparison.Ordinal);

        // System: every fit result's upload size, and a timeline with a bar per task.
        await page.ClickAsync("a[data-tab=system]");
        var bytes = await page.EvalOnSelectorAllAsync<long[]>("#system td[data-bytes]", "els => els.map(e => Number(e.getAttribute('data-bytes')))");
        Assert.Equal(results.Select(x => x.UploadBytes).Order(), bytes.Order());
        Assert.Contains(bytes, b => b > 0);
        Assert.Equal(results.Count(x => x.Phase == "fit" && x.Ok), await page.Locator("#timeline rect.fit").CountAsync());
        Assert.Equal(results.Count(x => !x.Ok), await page.Locator("#timeline rect.failed").CountAsync());
        Assert.Equal(rounds.Count, await page.Locator("#timeline rect.aggregate").CountAsync());

        await page.ClickAsync("a[data-tab=metrics]");
        await SaveScreenshotAsync(page);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Each_rounds_global_model_downloads_as_the_stored_parameter_file()
    {
        var page = await browser.LoggedInAsync(federation, federation.Host.AdminToken);
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.HeartRun}#models"));
        Assert.Equal(Federation.HeartRounds + 1, await page.Locator("#models a.download").CountAsync());
        var download = await page.RunAndWaitForDownloadAsync(() => page.ClickAsync("#models a[href$='/models/3']"));
        string path = Path.Combine(Path.GetTempPath(), "cohort-dl-" + Guid.NewGuid().ToString("N")[..8] + ".cps");
        await download.SaveAsAsync(path);
        var store = federation.Host.Services.GetRequiredService<ModelStore>();
        Assert.Equal(await File.ReadAllBytesAsync(store.PathOf(federation.HeartRun, 3)), await File.ReadAllBytesAsync(path));
        Assert.EndsWith("-round-0003.cps", download.SuggestedFilename, StringComparison.Ordinal);
        File.Delete(path);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_run_page_of_a_run_in_progress_updates_itself_as_rounds_complete()
    {
        var page = await browser.LoggedInAsync(federation, federation.Host.AdminToken);
        await page.GotoAsync(DashboardUrl.Of(federation, $"/runs/{federation.SlowRun}"));
        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        string before = (await page.TextContentAsync("#rounds-done"))!;
        await page.WaitForFunctionAsync("before => Number(document.getElementById('main').getAttribute('data-updates') || 0) > 0 && document.getElementById('rounds-done').textContent !== before",
            before, new() { Timeout = 20_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"));
        Assert.Contains("round", await page.TextContentAsync("#tab-status dl.facts"), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    /// <summary>Keeps the run page picture in the test output; COHORT_UPDATE_SCREENSHOT=1 also refreshes docs/dashboard.png.</summary>
    private static async Task SaveScreenshotAsync(IPage page)
    {
        await page.SetViewportSizeAsync(1280, 1000);
        var png = await page.ScreenshotAsync(new() { FullPage = false });
        await File.WriteAllBytesAsync(Path.Combine(AppContext.BaseDirectory, "dashboard.png"), png);
        if (Environment.GetEnvironmentVariable("COHORT_UPDATE_SCREENSHOT") == "1")
            await File.WriteAllBytesAsync(Path.Combine(Repo.Root, "docs", "dashboard.png"), png);
    }
}
