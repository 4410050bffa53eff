using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Nodes;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Server.Fleet;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Runs;

/// <summary>
/// The preflight at submit: asks every connected node the plan would select (its app, its data set,
/// its <c>selection.nodes</c>) to check the plan's app settings against its data, through the task board
/// as a validate task, all at once; a node with a site policy checks the run's terms against it in the same answer.
/// Every problem from every node comes back in one message before the run is queued, with the sites' refusals when
/// they leave fewer accepting nodes than <c>min_available</c>; a node that does not answer within the plan's
/// <c>preflight_timeout</c>, or that goes offline first, is noted, not waited for.
/// </summary>
internal sealed class RunPreflight(NodeRegistry registry, TaskBoard board, ILogger<RunPreflight> log)
{
    /// <summary>
    /// Checks <paramref name="plan"/> on the nodes that would run it; throws <see cref="PreflightException"/> listing every problem.
    /// <paramref name="places"/>, the plan file's text, places a problem that quotes one of its app settings at that setting's line.
    /// </summary>
    /// <returns>What could not be checked (nodes that did not answer in time); empty when every node answered.</returns>
    public async Task<IReadOnlyList<string>> CheckAsync(Plan plan, string? submitter, CancellationToken ct, PlanSettingPlaces? places = null)
    {
        var nodes = plan.Selection.Allowed(registry.Online(plan.App.Name, plan.Dataset));
        if (nodes.Count == 0) return OtherAppsOnly(plan);
        string id = $"preflight-{Guid.NewGuid().ToString("N")[..12]}";
        var tasks = nodes.Select(node => new PendingTask
        {
            Id = $"{id}-{node}",
            Node = node,
            RunId = id,
            Round = 0,
            Kind = TaskKind.Validate,
            App = plan.App.Name,
            AppSettings = plan.App.Settings,
            Dataset = plan.Dataset,
            // The run's terms, so a site checks the plan against its policy as it would the run's tasks.
            Terms = RunTerms.Of(plan, submitter),
            // A round's fit config: a site's limits on task config (local_epochs, local_steps, batch_size, learning_rate) are
            // checked too. Only the learning rate changes from round to round, and every schedule moves it one way, so the
            // round where it peaks (the first, or the last when gamma is above 1) stands for all of them.
            Config = plan.FitConfig(plan.Train.LearningRateAt(plan.Rounds) > plan.Train.LearningRateAt(1) ? plan.Rounds : 1),
            Timeout = plan.PreflightTimeout,
            // A node found offline mid-check is noted at once, not waited for until the deadline.
            OfflineGrace = TimeSpan.Zero,
        }).ToArray();
        var outcomes = tasks.Select(board.Submit).ToArray();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(plan.PreflightTimeout);
        using var onTimeout = timeout.Token.Register(() =>
        {
            string reason = ct.IsCancellationRequested ? "submit cancelled" : $"did not answer the preflight within {plan.PreflightTimeout.TotalSeconds:0.#}s (busy with another run, or unreachable); its data was not checked";
            foreach (var t in tasks) board.Complete(t, TaskOutcome.Failed(ct.IsCancellationRequested ? FailureKind.Cancelled : FailureKind.Timeout, reason));
        });
        var results = await Task.WhenAll(outcomes);
        ct.ThrowIfCancellationRequested();

        var problems = new List<string>(SchemaDisagreement(plan.Dataset, tasks, results));
        problems.AddRange(NodeProblems(tasks, results, places));
        var notes = new List<string>();
        for (int i = 0; i < tasks.Length; i++)
        {
            string node = tasks[i].Node;
            var outcome = results[i];
            if (outcome.Ok) continue;
            if (outcome.Failure == FailureKind.Timeout) notes.Add($"node {node} {outcome.Error}");
            else if (outcome.Failure == FailureKind.Offline) notes.Add($"node {node} went offline before it answered the preflight ({outcome.Error}); its data was not checked");
            else if (outcome.Failure == FailureKind.SitePolicy) continue;
            else problems.Add($"node {node}: could not check the plan: {outcome.Error}");
        }
        var refusals = tasks.Zip(results).Where(x => x.Second.Failure == FailureKind.SitePolicy).Select(x => $"node {x.First.Node}: {x.Second.Error}").ToArray();
        if (refusals.Length > 0)
        {
            int accepting = tasks.Length - refusals.Length;
            // As many as a round waits for.
            var (wanted, wantedName) = plan.Selection.RoundStart;
            if (accepting < wanted && tasks.Length >= wanted)
            {
                // Enough nodes are here, and the refusals alone leave too few: a site refuses every task of the run, so the run
                // could only wait for nodes that are not coming and fail at round 1.
                problems.AddRange(refusals);
                problems.Add($"{accepting} of the {tasks.Length} connected nodes accept the run, against {wantedName} {wanted}");
            }
            else
            {
                // The refusing sites do not take part; the run goes on with the others, or waits for more as any run would.
                notes.AddRange(refusals);
                notes.Add($"{accepting} of the {tasks.Length} connected nodes accept the run, against {wantedName} {wanted}: " +
                    (accepting >= wanted ? "it goes on without the refusing nodes" : "it waits for other nodes, without the refusing ones"));
            }
        }
        if (problems.Count > PreflightLimits.MaxReported)
        {
            // The message travels as one gRPC status line; the first problems are enough to start fixing.
            int more = problems.Count - PreflightLimits.MaxReported;
            problems = [.. problems.Take(PreflightLimits.MaxReported), $"and {more} more"];
        }
        if (problems.Count > 0)
        {
            log.LogInformation("Preflight of plan {Plan} found {Count} problems on {Nodes} nodes", plan.Name, problems.Count, nodes.Count);
            throw new PreflightException(problems, notes);
        }
        return notes;
    }

    /// <summary>
    /// With no node to ask there is nothing to check; when the connected nodes all run other apps, a note names them, with
    /// the nearest when the plan's app looks misspelt, so the submitter hears it at once rather than from the waiting run.
    /// </summary>
    private IReadOnlyList<string> OtherAppsOnly(Plan plan)
    {
        var apps = registry.All.Where(n => n.Online && n.App.Length > 0).Select(n => n.App)
            .Distinct(StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal).ToArray();
        if (apps.Length == 0) return [];
        if (apps.Contains(plan.App.Name, StringComparer.OrdinalIgnoreCase)) return OtherDatasetsOnly(plan);
        return [$"no connected node runs app '{plan.App.Name}'{NearestName.Hint(plan.App.Name, apps)}; the connected nodes run " +
            $"{string.Join(", ", apps.Select(a => $"'{a}'"))}: the run waits for nodes of its app"];
    }

    // Nodes of the plan's app are connected but none holds its data set: a misspelt name shows at submit, not only in the wait.
    private IReadOnlyList<string> OtherDatasetsOnly(Plan plan)
    {
        if (plan.Dataset is not { } dataset) return [];
        var held = registry.All.Where(n => n.Online && string.Equals(n.App, plan.App.Name, StringComparison.OrdinalIgnoreCase))
            .SelectMany(n => n.Datasets.Select(d => d.Name)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (held.Length == 0) return [];
        return [$"no connected node of app '{plan.App.Name}' holds data set '{dataset}'{NearestName.Hint(dataset, held)}; they hold " +
            $"{string.Join(", ", held.Select(d => $"'{d}'"))}: the run waits for a node holding it"];
    }

    /// <summary>
    /// The problems the nodes found, each once, with the nodes that found it (<c>nodes a, b: PROBLEM</c>), in the order first
    /// found: a misspelt setting is one line whatever the number of nodes. A problem that quotes a setting of the plan's
    /// <c>app.settings</c> is placed at it (<c>plan.yaml:12:5: app setting 'lable' is not known</c>), as <c>cohort plan check</c> places it.
    /// </summary>
    private static IEnumerable<string> NodeProblems(PendingTask[] tasks, TaskOutcome[] results, PlanSettingPlaces? places)
    {
        var byProblem = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var order = new List<string>();
        for (int i = 0; i < tasks.Length; i++)
        {
            if (!results[i].Ok) continue;
            foreach (var problem in results[i].Problems)
            {
                if (!byProblem.TryGetValue(problem, out var nodes))
                {
                    byProblem[problem] = nodes = [];
                    order.Add(problem);
                }
                if (!nodes.Contains(tasks[i].Node)) nodes.Add(tasks[i].Node);
            }
        }
        foreach (var problem in order)
        {
            var nodes = byProblem[problem];
            string who = nodes.Count == 1 ? $"node {nodes[0]}"
                : nodes.Count <= NamedNodes ? $"nodes {string.Join(", ", nodes)}"
                : $"nodes {string.Join(", ", nodes.Take(NamedNodes))} and {nodes.Count - NamedNodes} more";
            string where = places?.SettingIn(problem) is { } key ? $"{places.Place(key)}: " : "";
            yield return $"{who}: {where}{problem}";
        }
    }

    // How many nodes a problem found by many names before it counts the rest.
    private const int NamedNodes = 5;

    /// <summary>
    /// One problem when the nodes' data differ in column names or types (each answer reports its data's
    /// schema), naming each schema and its nodes; none when they agree or the app cannot describe its data.
    /// Nodes that found problems in their data are left out of the comparison.
    /// </summary>
    private static IEnumerable<string> SchemaDisagreement(string? dataset, PendingTask[] tasks, TaskOutcome[] results)
    {
        var schemas = tasks.Zip(results)
            // A node whose data has problems of its own reports them; its schema would only repeat them.
            .Where(x => x.Second.Ok && x.Second.Problems.Count == 0 && x.Second.Metrics.ContainsKey(SchemaMetrics.Hash))
            .Select(x => (x.First.Node, Hash: x.Second.Metrics[SchemaMetrics.Hash].ToString(), Columns: x.Second.Metrics.TryGetValue(SchemaMetrics.Columns, out var c) ? c.ToString() : "?"))
            .GroupBy(x => x.Hash, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).ToArray();
        if (schemas.Length < 2) yield break;
        var described = schemas.Select(g => $"schema {DatasetSchema.Short(g.Key)} ({g.First().Columns} columns) on {string.Join(", ", g.Select(x => x.Node).Order(StringComparer.Ordinal))}");
        string what = dataset is null ? "the nodes' data" : $"data set '{dataset}'";
        yield return $"{what} has different columns or column types on different nodes: {string.Join("; ", described)}";
    }
}

/// <summary>The preflight found problems; the message lists every one, node by node, on one line.</summary>
internal sealed class PreflightException(IReadOnlyList<string> problems, IReadOnlyList<string> notes)
    : InvalidOperationException($"preflight failed: {string.Join("; ", problems)}{(notes.Count > 0 ? $" (also: {string.Join("; ", notes)})" : "")}; the run was not queued (cohort run submit --no-preflight skips this check)")
{
    /// <summary>Each problem, prefixed with its node.</summary>
    public IReadOnlyList<string> Problems { get; } = problems;
}
