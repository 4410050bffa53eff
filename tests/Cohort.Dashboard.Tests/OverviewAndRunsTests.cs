using System.Globalization;
using Cohort.Dashboard.Tests.Infrastructure;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;
using Microsoft.Playwright;

namespace Cohort.Dashboard.Tests;

/// <summary>The overview, the nodes and runs lists, comparisons, and starting and stopping runs from the dashboard.</summary>
[Collection(DashboardCollection.Name)]
public sealed class OverviewAndRunsTests(Federation federation, Browser browser)
{
    [Fact]
    public async Task Overview_counts_nodes_and_runs_and_follows_the_run_in_progress_without_reloading()
    {
        var page = await browser.LoggedInAsync(federation, federation.Host.AdminToken);
        await page.GotoAsync(DashboardUrl.Of(federation, "/"));
        Assert.Equal($"{Federation.NodeCount} / {Federation.NodeCount}", (await page.TextContentAsync("#card-nodes-online .value"))!.Trim());
        Assert.Equal("1", (await page.TextContentAsync("#card-runs-running .value"))!.Trim());
        Assert.Contains(federation.SlowRun, await page.TextContentAsync("#latest-rounds"), StringComparison.Ordinal);

        await page.EvaluateAsync("() => { window.__sameDocument = true; }");
        string before = (await page.TextContentAsync("#active-runs .rounds-done"))!;
        await page.WaitForFunctionAsync("before => Number(document.getElementById('main').getAttribute('data-updates') || 0) > 0 && document.querySelector('#active-runs .rounds-done').textContent !== before",
            before, new() { Timeout = 20_000 });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__sameDocument === true"));
        Assert.Contains("on", await page.GetAttributeAsync("#live-dot", "class") ?? "", StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Nodes_page_lists_every_node_with_status_app_and_the_runs_it_took_part_in()
    {
        var page = await browser.LoggedInAsync(federation, federation.Host.AdminToken);
        await page.GotoAsync(DashboardUrl.Of(federation, "/nodes"));
        string cleveland = (await page.TextContentAsync("tr[data-node=cleveland]"))!;
        Assert.Matches("online|busy", cleveland);
        Assert.Contains("tabular", cleveland, StringComparison.Ordinal);
        Assert.Contains(federation.HeartRun, cleveland, StringComparison.Ordinal);
        // Each hospital declared its file as data set 'heart': listed with its schema hash (short, the full one in the title).
        string hash = (await page.GetAttributeAsync("tr[data-node=cleveland] [data-dataset=heart] code", "title"))!;
        Assert.Matches("^[0-9a-f]{64}$", hash);
        Assert.Contains($"heart {hash[..12]} 14 columns", (await page.TextContentAsync("tr[data-node=cleveland] td.datasets"))!, StringComparison.Ordinal);
        Assert.Contains("empty", (await page.TextContentAsync("tr[data-node=e1]"))!, StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Runs_list_filters_by_status_and_experiment_and_compares_runs_in_one_chart()
    {
        var page = await browser.LoggedInAsync(federation, federation.Host.AdminToken);
        await page.GotoAsync(DashboardUrl.Of(federation, "/runs?status=finished"));
        var finished = await page.EvalOnSelectorAllAsync<string[]>("#runs tr[data-run]", "els => els.map(e => e.getAttribute('data-run'))");
        Assert.Contains(federation.HeartRun, finished);
        Assert.Contains(federation.HeartRunFast, finished);
        Assert.DoesNotContain(federation.SlowRun, finished);
        await page.GotoAsync(DashboardUrl.Of(federation, "/runs?experiment=drills"));
        Assert.Equal(new[] { federation.SlowRun }, await page.EvalOnSelectorAllAsync<string[]>("#runs tr[data-run]", "els => els.map(e => e.getAttribute('data-run'))"));

        await page.GotoAsync(DashboardUrl.Of(federation, "/runs?experiment=flamby-heart-disease"));
        await page.CheckAsync($"#runs input[value='{federation.HeartRun}']");
        await page.CheckAsync($"#runs input[value='{federation.HeartRunFast}']");
        // The list refreshes itself while the slow run progresses; ticked boxes survive that.
        int seen = int.Parse(await page.GetAttributeAsync("#main", "data-updates") ?? "0", CultureInfo.InvariantCulture);
        await page.WaitForFunctionAsync("seen => Number(document.getElementById('main').getAttribute('data-updates') || 0) > seen", seen, new() { Timeout = 20_000 });
        Assert.True(await page.IsCheckedAsync($"#runs input[value='{federation.HeartRun}']"));
        Assert.True(await page.IsCheckedAsync($"#runs input[value='{federation.HeartRunFast}']"));
        await page.ClickAsync("text=compare selected");
        await DashboardUrl.ReachedAsync(page, "/compare?");
        Assert.Equal(2, await page.Locator("#compare-chart g.run").CountAsync());
        foreach (var id in new[] { federation.HeartRun, federation.HeartRunFast })
        {
            var expected = (await federation.Store.ListRoundsAsync(id, CancellationToken.None)).Select(r => r.Metrics["accuracy"].AsDouble());
            var drawn = await page.EvalOnSelectorAllAsync<string[]>($"#compare-chart g[data-series='{id}'] circle", "els => els.map(e => e.getAttribute('data-value'))");
            Assert.Equal(expected, drawn.Select(v => double.Parse(v, CultureInfo.InvariantCulture)));
        }
        Assert.Contains("0.02", await page.TextContentAsync("#compare-params"), StringComparison.Ordinal);
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task An_admin_starts_a_run_from_an_example_plan_with_chosen_nodes_and_hyperparameters_then_stops_it()
    {
        var page = await browser.LoggedInAsync(federation, federation.Host.AdminToken);
        await page.GotoAsync(DashboardUrl.Of(federation, "/runs/new"));
        await page.SelectOptionAsync("select[name=from]", "file:heart-disease/plan.yaml");
        await page.ClickAsync("text=load plan");
        Assert.Contains("flamby-heart-disease", await page.InputValueAsync("textarea[name=plan]"), StringComparison.Ordinal);

        // A plan with a mistake is refused with the parser's message, and the form keeps what was typed.
        await page.FillAsync("input[name=rounds]", "zero");
        await page.ClickAsync("#start-run");
        Assert.Contains("rounds", await page.TextContentAsync("#submit-error"), StringComparison.Ordinal);

        // Rounds enough that the run is still going when it is stopped.
        await page.FillAsync("input[name=rounds]", "500");
        await page.FillAsync("input[name=learning_rate]", "0.01");
        // Two nodes ticked, three wanted: only the ticked nodes take part, so the plan could never start and is refused.
        await page.FillAsync("input[name=min_available]", "3");
        await page.FillAsync("input[name=min_fit]", "2");
        await page.FillAsync("input[name=min_evaluate]", "2");
        await page.CheckAsync("input[name=nodes][value=cleveland]");
        await page.CheckAsync("input[name=nodes][value=hungarian]");
        await page.ClickAsync("#start-run");
        Assert.Contains("selection.min_available: 3 is more than the 2 nodes in selection.nodes", await page.TextContentAsync("#submit-error"), StringComparison.Ordinal);

        await page.FillAsync("input[name=min_available]", "2");
        await page.ClickAsync("#start-run");
        await DashboardUrl.ReachedAsync(page, "/runs/heart-disease-");
        string id = Uri.UnescapeDataString(new Uri(page.Url).AbsolutePath["/runs/".Length..]);

        var plan = PlanParser.Parse((await federation.Store.GetRunAsync(id, CancellationToken.None))!.PlanYaml, "stored", StrategyRegistry.CreateDefault());
        Assert.Equal(500, plan.Rounds);
        Assert.Equal(0.01, plan.Train.LearningRate);
        Assert.Equal(new[] { "cleveland", "hungarian" }, plan.Selection.Nodes);
        Assert.Equal(2, plan.Selection.MinAvailable);

        await page.ClickAsync("#stop-run");
        await page.WaitForSelectorAsync(".summary .s-stopped");
        Assert.Equal(RunStatus.Stopped, (await federation.Store.GetRunAsync(id, CancellationToken.None))!.Status);

        // An uploaded plan file takes the place of the text box. It names a node that is not connected, so the run
        // waits for it, and its page says why.
        await page.GotoAsync(DashboardUrl.Of(federation, "/runs/new"));
        await page.SetInputFilesAsync("input[name=plan_file]", new FilePayload
        {
            Name = "uploaded.yaml",
            MimeType = "text/yaml",
            Buffer = System.Text.Encoding.UTF8.GetBytes(Federation.SlowPlan
                .Replace("name: slow-empty", "name: uploaded", StringComparison.Ordinal)
                .Replace("experiment: drills", "experiment: uploads", StringComparison.Ordinal)
                .Replace("selection: { min_available: 2,", "selection: { nodes: [e1, e2, e3], min_available: 3,", StringComparison.Ordinal)),
        });
        await page.ClickAsync("#start-run");
        await DashboardUrl.ReachedAsync(page, "/runs/uploaded-");
        // The page may have been rendered a moment before the run began to wait.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (await page.QuerySelectorAsync("#waiting-reason") is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the run page never showed why the run waits");
            await Task.Delay(200);
            await page.ReloadAsync();
        }
        Assert.StartsWith("waiting for nodes: 3 needed (min_available), 2 connected with app 'empty' and named in selection.nodes", await page.TextContentAsync("#waiting-reason"));
        await page.ClickAsync("#stop-run");
        await page.WaitForSelectorAsync(".summary .s-stopped");
        await page.Context.CloseAsync();
    }
}
