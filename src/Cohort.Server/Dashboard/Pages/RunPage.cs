using System.Globalization;
using System.Text;
using Cohort.Clients;
using Cohort.Engine.State;
using Cohort.Records;
using Cohort.Server.Dashboard.Charts;
using Cohort.Server.Security;

namespace Cohort.Server.Dashboard.Pages;

/// <summary>One run, in tabs: training status, metrics, parameters, system timings and models.</summary>
internal static class RunPage
{
    /// <summary>Renders the page body.</summary>
    public static string Render(RunView v, AccessIdentity who)
    {
        var r = v.Run;
        string id = Html.E(Uri.EscapeDataString(r.Id));
        var sb = new StringBuilder();
        // The live script refreshes this page only when this run's entry in the event stream changes.
        sb.Append("<span hidden data-watch-run=\"").Append(Html.E(r.Id)).Append("\"></span>");
        sb.Append("<h1>").Append(Html.E(r.Name)).Append(" <small class=\"muted\">").Append(Html.E(r.Id)).Append("</small></h1>")
          .Append("<p class=\"summary\">").Append(Html.Status(r.Status.ToText())).Append(" experiment <a href=\"/runs?experiment=").Append(Html.E(Uri.EscapeDataString(r.Experiment))).Append("\">")
          .Append(Html.E(r.Experiment)).Append("</a> · app ").Append(Html.E(r.App)).Append(" · strategy ").Append(Html.E(r.Strategy))
          .Append(" · <span id=\"rounds-done\">").Append(r.RoundsDone).Append(" / ").Append(r.RoundsPlanned).Append("</span> rounds")
          .Append(OverviewPage.Progress(r.RoundsDone, r.RoundsPlanned));
        foreach (var tag in v.Plan?.Tags ?? []) sb.Append(" <span class=\"tag\">").Append(Html.E(tag)).Append("</span>");
        sb.Append("</p>");
        if (who.Can(Permission.StopRun) && !r.Status.IsFinal())
            sb.Append("<form method=\"post\" action=\"/runs/").Append(id).Append("/stop\" class=\"inline\"><button id=\"stop-run\" class=\"danger\">stop run</button></form>");

        sb.Append("<nav class=\"tabs\">");
        foreach (var (key, label) in new[] { ("status", "Training status"), ("metrics", "Metrics"), ("parameters", "Parameters"), ("system", "System"), ("models", "Models") })
            sb.Append("<a href=\"#").Append(key).Append("\" data-tab=\"").Append(key).Append("\">").Append(label).Append("</a>");
        sb.Append("</nav>");
        sb.Append("<section class=\"tab\" id=\"tab-status\">").Append(Status(v)).Append("</section>");
        sb.Append("<section class=\"tab\" id=\"tab-metrics\">").Append(MetricsTab(v)).Append("</section>");
        sb.Append("<section class=\"tab\" id=\"tab-parameters\">").Append(Parameters(v)).Append("</section>");
        sb.Append("<section class=\"tab\" id=\"tab-system\">").Append(SystemTab(v)).Append("</section>");
        sb.Append("<section class=\"tab\" id=\"tab-models\">").Append(ModelsTab(v, who.Can(Permission.PullModel))).Append("</section>");
        return sb.ToString();
    }

    private static string Status(RunView v)
    {
        var r = v.Run;
        var sb = new StringBuilder("<dl class=\"facts\">");
        Fact(sb, "status", r.Status.ToText());
        Fact(sb, "current phase", v.Progress is { } p ? $"round {p.Round}: {p.Phase.ToText()} ({p.Received}/{p.Expected})" : r.Status.IsFinal() ? "ended" : "–");
        if (v.Progress?.WaitingReason is { } waiting) sb.Append("<dt>waiting</dt><dd id=\"waiting-reason\">").Append(Html.E(waiting)).Append("</dd>");
        Fact(sb, "created", Html.Time(r.CreatedAt));
        Fact(sb, "started", Html.Time(r.StartedAt));
        Fact(sb, "finished", Html.Time(r.FinishedAt));
        Fact(sb, "duration", RunView.Elapsed(r) is { } e ? Html.Duration(e) : "–");
        sb.Append("</dl>");
        if (r.Error is not null) sb.Append("<p class=\"error\" id=\"run-error\">").Append(Html.E(r.Error)).Append("</p>");

        var byRound = v.Results.ToLookup(x => x.Round);
        // Binary apps that report PR-AUC and F1 get columns for them: on imbalanced labels they say more than accuracy.
        bool imbalance = v.Rounds.Any(x => RunView.Value(x.Metrics, "pr_auc") is not null);
        sb.Append("<h2>Rounds</h2><table id=\"rounds\"><tr><th>round</th><th>status</th><th>started</th><th>duration</th><th>fit ok / failed</th><th>loss</th><th>accuracy</th><th>AUC</th>")
          .Append(imbalance ? "<th>PR-AUC</th><th>F1</th>" : "").Append("</tr>");
        foreach (var round in v.Rounds)
        {
            var fits = byRound[round.Round].Where(x => x.Kind == TaskKind.Fit).ToArray();
            sb.Append("<tr><td>").Append(round.Round).Append("</td><td>").Append(Html.Status(round.Status.ToText())).Append("</td><td>").Append(Html.Time(round.StartedAt))
              .Append("</td><td>").Append(round.FinishedAt is { } f ? Html.Duration(f - round.StartedAt) : "–")
              .Append("</td><td>").Append(fits.Count(x => x.Ok)).Append(" / ").Append(fits.Count(x => !x.Ok))
              .Append("</td><td>").Append(Html.Num(round.Loss)).Append("</td><td>").Append(Html.Num(RunView.Value(round.Metrics, "accuracy")))
              .Append("</td><td>").Append(Html.Num(RunView.Value(round.Metrics, "auc")));
            if (imbalance)
                sb.Append("</td><td>").Append(Html.Num(RunView.Value(round.Metrics, "pr_auc"))).Append("</td><td>").Append(Html.Num(RunView.Value(round.Metrics, "f1")));
            sb.Append("</td></tr>");
        }
        sb.Append("</table>");

        var failures = v.Results.Where(x => !x.Ok).ToArray();
        sb.Append("<h2>Failures</h2>");
        if (failures.Length == 0) sb.Append("<p class=\"muted\">none</p>");
        else
        {
            sb.Append("<table id=\"failures\"><tr><th>round</th><th>node</th><th>phase</th><th>reason</th></tr>");
            foreach (var x in failures)
                sb.Append("<tr><td>").Append(x.Round).Append("</td><td>").Append(Html.E(x.Node)).Append("</td><td>").Append(Html.E(x.Phase)).Append("</td><td>").Append(Html.E(x.Error)).Append("</td></tr>");
            sb.Append("</table>");
        }
        sb.Append("<h2>Events</h2><ul class=\"events\">");
        foreach (var ev in v.Events.Reverse().Take(50))
            sb.Append("<li><time>").Append(Html.Time(ev.At)).Append("</time> <code>").Append(Html.E(ev.Kind)).Append("</code> ").Append(Html.E(ev.Message)).Append("</li>");
        return sb.Append("</ul>").ToString();
    }

    private static string MetricsTab(RunView v)
    {
        var done = v.Rounds.Where(r => r.Status == RoundStatus.Done).ToArray();
        var evals = v.Results.Where(x => x.Ok && x.Kind == TaskKind.Evaluate).ToArray();
        var fits = v.Results.Where(x => x.Ok && x.Kind == TaskKind.Fit).ToArray();
        var nodes = v.Results.Select(x => x.Node).Distinct().Order(StringComparer.Ordinal).ToArray();
        var sb = new StringBuilder("<p class=\"muted\">Solid black: the global model evaluated by the nodes (federated, weighted by examples); dashed: evaluated by the server (central); colours: each node's own value (tick to show or hide).</p><div class=\"charts\">");

        // Evaluation: loss, then every numeric metric the nodes or the server report.
        var keys = new List<string> { "loss" };
        keys.AddRange(done.SelectMany(r => NumericKeys(r.Metrics).Concat(NumericKeys(r.CentralMetrics))));
        keys.AddRange(evals.SelectMany(x => NumericKeys(x.Metrics)));
        var evalsByNode = evals.ToLookup(x => x.Node);
        var fitsByNode = fits.ToLookup(x => x.Node);
        foreach (var key in Ordered(keys))
        {
            var series = new List<ChartSeries>
            {
                new("federated", SeriesKind.Federated, done.Select(r => ((double)r.Round, (key == "loss" ? r.Loss : RunView.Value(r.Metrics, key)) ?? double.NaN)).ToArray()),
            };
            if (done.Any(r => (key == "loss" ? r.CentralLoss : RunView.Value(r.CentralMetrics, key)) is not null))
                series.Add(new("central", SeriesKind.Central, done.Select(r => ((double)r.Round, (key == "loss" ? r.CentralLoss : RunView.Value(r.CentralMetrics, key)) ?? double.NaN)).ToArray()));
            foreach (var node in nodes)
            {
                var pts = evalsByNode[node].Select(x => ((double)x.Round, (key == "loss" ? x.Loss : RunView.Value(x.Metrics, key)) ?? double.NaN)).ToArray();
                if (pts.Any(p => double.IsFinite(p.Item2))) series.Add(new(node, SeriesKind.Node, pts));
            }
            sb.Append(LineChart.Render("chart-eval-" + key, $"{key} (evaluation)", series));
        }

        // Training: what fit reports (aggregated by the strategy, and per node).
        var fitKeys = Ordered(done.SelectMany(r => NumericKeys(r.FitMetrics)).Concat(fits.SelectMany(x => NumericKeys(x.Metrics))));
        foreach (var key in fitKeys)
        {
            var series = new List<ChartSeries>
            {
                new("federated", SeriesKind.Federated, done.Select(r => ((double)r.Round, RunView.Value(r.FitMetrics, key) ?? double.NaN)).ToArray()),
            };
            foreach (var node in nodes)
            {
                var pts = fitsByNode[node].Select(x => ((double)x.Round, RunView.Value(x.Metrics, key) ?? double.NaN)).ToArray();
                if (pts.Any(p => double.IsFinite(p.Item2))) series.Add(new(node, SeriesKind.Node, pts));
            }
            sb.Append(LineChart.Render("chart-fit-" + key, $"{key} (training)", series));
        }
        return sb.Append("</div>").ToString();
    }

    private static string Parameters(RunView v)
    {
        var sb = new StringBuilder();
        if (v.Plan is { } p)
        {
            sb.Append("<div class=\"columns\"><dl class=\"facts\" id=\"hyperparameters\">");
            Fact(sb, "app", p.App.Name);
            Fact(sb, "strategy", p.Strategy.Name);
            foreach (var kv in p.Strategy.Parameters) Fact(sb, "strategy." + kv.Key, kv.Value.ToString());
            Fact(sb, "rounds", p.Rounds.ToString(CultureInfo.InvariantCulture));
            Fact(sb, "local epochs", p.Train.LocalEpochs?.ToString(CultureInfo.InvariantCulture) ?? "–");
            Fact(sb, "local steps", p.Train.LocalSteps?.ToString(CultureInfo.InvariantCulture) ?? "–");
            Fact(sb, "batch size", p.Train.BatchSize.ToString(CultureInfo.InvariantCulture));
            Fact(sb, "optimizer", p.Train.Optimizer);
            Fact(sb, "learning rate", Html.Num(p.Train.LearningRate));
            Fact(sb, "lr schedule", p.Train.Schedule.Type);
            Fact(sb, "weight decay", Html.Num(p.Train.WeightDecay));
            Fact(sb, "momentum", Html.Num(p.Train.Momentum));
            Fact(sb, "selection", $"min_available {p.Selection.MinAvailable}, min_fit {p.Selection.MinFit}, min_evaluate {p.Selection.MinEvaluate}, fraction_fit {Html.Num(p.Selection.FractionFit)}, fraction_evaluate {Html.Num(p.Selection.FractionEvaluate)}{(p.Selection.AcceptFirst is { } first ? $", accept_first {first}" : "")}");
            Fact(sb, "round timeout", Html.Duration(p.RoundTimeout));
            Fact(sb, "seed", p.Seed.ToString(CultureInfo.InvariantCulture));
            Fact(sb, "tags", string.Join(", ", p.Tags));
            foreach (var kv in p.App.Settings) Fact(sb, "app." + kv.Key, kv.Value.ToString());
            sb.Append("</dl></div>");
        }
        else sb.Append("<p class=\"error\">plan no longer parses: ").Append(Html.E(v.PlanError)).Append("</p>");
        return sb.Append("<h2>Plan</h2><pre id=\"plan-yaml\">").Append(Html.E(v.Run.PlanYaml)).Append("</pre>").ToString();
    }

    /// <summary>Rounds the system tab details; a longer run shows its latest ones (all are in <c>cohort run metrics</c>).</summary>
    public const int SystemRounds = 50;

    private static string SystemTab(RunView v)
    {
        var sb = new StringBuilder();
        if (v.Rounds.Count > SystemRounds)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<p class=\"muted\">The latest {SystemRounds} of {v.Rounds.Count} rounds; <code>cohort run metrics {Html.E(v.Run.Id)}</code> exports all.</p>");
            var keep = v.Rounds.TakeLast(SystemRounds).ToArray();
            int first = keep[0].Round;
            v = v with { Rounds = keep, Results = v.Results.Where(x => x.Round >= first).ToArray() };
        }
        sb.Append("<p class=\"muted\">Per node and round: <b>compute</b> is the time the node reports for its task; <b>waiting</b> is the time from the round's start until the node began computing (queue, download); <b>idle</b> is the time from its fit result until the round's last fit result (waiting for stragglers). The server lane shows aggregation.</p>");
        sb.Append(Timeline.Render(v));
        sb.Append("<table id=\"system\"><tr><th>round</th><th>node</th><th>phase</th><th>ok</th><th>compute</th><th>upload</th><th>waiting</th><th>idle</th></tr>");
        var byRound = v.Results.ToLookup(x => x.Round);
        foreach (var round in v.Rounds)
        {
            var results = byRound[round.Round].ToArray();
            var lastFit = results.Where(x => x.Kind == TaskKind.Fit).Select(x => x.At).DefaultIfEmpty(round.StartedAt).Max();
            foreach (var x in results)
            {
                double waiting = Math.Max(0, (x.At - round.StartedAt).TotalSeconds - x.DurationSeconds);
                string idle = x.Kind == TaskKind.Fit ? Html.Num((lastFit - x.At).TotalSeconds) + " s" : "–";
                sb.Append("<tr><td>").Append(round.Round).Append("</td><td>").Append(Html.E(x.Node)).Append("</td><td>").Append(Html.E(x.Phase)).Append("</td><td>")
                  .Append(x.Ok ? "yes" : "<span class=\"error\">no</span>").Append("</td><td>").Append(Html.Num(x.DurationSeconds)).Append(" s</td><td data-bytes=\"")
                  .Append(x.UploadBytes).Append("\">").Append(Html.Bytes(x.UploadBytes)).Append("</td><td>").Append(x.Kind == TaskKind.Fit ? Html.Num(waiting) + " s" : "–")
                  .Append("</td><td>").Append(idle).Append("</td></tr>");
            }
            sb.Append("<tr class=\"server-row\"><td>").Append(round.Round).Append("</td><td>server</td><td>aggregate</td><td>")
              .Append(round.Status == RoundStatus.Done ? "yes" : "no").Append("</td><td>").Append(Html.Num(round.AggregationSeconds * 1000)).Append(" ms</td><td></td><td></td><td></td></tr>");
        }
        return sb.Append("</table>").ToString();
    }

    private static string ModelsTab(RunView v, bool mayDownload)
    {
        if (v.Models.Count == 0) return "<p class=\"muted\">no model saved yet</p>";
        var sb = new StringBuilder("<p class=\"muted\">Each round's global model as a Cohort parameter file (<code>.cps</code>); round 0 is the initial model. <code>cohort model pull</code> fetches the same files.</p><table id=\"models\"><tr><th>round</th><th>size</th><th></th></tr>");
        string id = Html.E(Uri.EscapeDataString(v.Run.Id));
        foreach (var (round, bytes) in v.Models)
        {
            sb.Append("<tr><td>").Append(round == 0 ? "0 (initial)" : round.ToString(CultureInfo.InvariantCulture)).Append("</td><td>").Append(Html.Bytes(bytes))
              .Append("</td><td>");
            // A role without pull_model sees the list, not links that would answer 403.
            if (mayDownload) sb.Append("<a class=\"download\" href=\"/runs/").Append(id).Append("/models/").Append(round).Append("\" download>download</a>");
            else sb.Append("<span class=\"muted\" title=\"needs permission pull_model\">–</span>");
            sb.Append("</td></tr>");
        }
        return sb.Append("</table>").ToString();
    }

    private static IEnumerable<string> NumericKeys(Metrics m) => m.Where(kv => kv.Value.IsNumber).Select(kv => kv.Key);

    private static string[] Ordered(IEnumerable<string> keys)
    {
        // The familiar metrics first, then the app's own in name order.
        string[] first = ["loss", "accuracy", "auc", "pr_auc", "f1"];
        var set = keys.Distinct().ToArray();
        return first.Where(set.Contains).Concat(set.Where(k => !first.Contains(k)).Order(StringComparer.Ordinal)).ToArray();
    }

    private static void Fact(StringBuilder sb, string label, string value) =>
        sb.Append("<dt>").Append(Html.E(label)).Append("</dt><dd>").Append(Html.E(value)).Append("</dd>");
}
