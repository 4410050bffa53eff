using System.CommandLine;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Transport.V1;
using Spectre.Console;
using Cohort.Records;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort run submit|list|show|wait|stop</c>: the operator's control of runs.</summary>
internal static class RunCommands
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var run = new Command("run", "Submit, inspect and stop runs");
        run.Subcommands.Add(Submit());
        run.Subcommands.Add(List());
        run.Subcommands.Add(Show());
        run.Subcommands.Add(Wait());
        run.Subcommands.Add(Stop());
        run.Subcommands.Add(MetricsExport());
        return run;
    }

    private static Command Submit()
    {
        var control = new ControlOptions();
        var plan = new Argument<string>("plan") { Description = "Plan file (YAML)" };
        var wait = new Option<bool>("--wait", "-w") { Description = "Wait for the run to end, printing each round" };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var set = PlanSetOption.Create();
        var noPreflight = new Option<bool>("--no-preflight") { Description = "Queue the run without first asking the nodes that would run it to check its app settings against their data and its terms against their site policies" };
        var command = new Command("submit", "Submit a plan as a new run (after the nodes it would use check its app settings against their data)") { plan, wait, json, set, noPreflight };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            string path = pr.GetValue(plan)!;
            string original = await PlanFile.ReadAsync(path, ct);
            var overrides = Plans.PlanOverrides.Parse(pr.GetValue(set));
            // The server is sent the file's name only; its messages name the path as typed here, places in the user's file.
            string source = Path.GetFileName(path);
            string yaml = overrides.Apply(original, path);
            using var client = new ControlClient(control.Resolve(pr));
            RunInfo info;
            try
            {
                info = await client.SubmitAsync(yaml, source, ct, pr.GetValue(noPreflight));
            }
            catch (CliException e) when (e is not ServerUnreachableException)
            {
                throw new CliException(overrides.Blame(e.Message, source, path, original, yaml));
            }
            foreach (var note in info.PreflightNotes) Console.Error.WriteLine($"preflight: {overrides.Blame(note, source, path, original, yaml)}");
            if (pr.GetValue(json) && !pr.GetValue(wait))
            {
                Console.WriteLine(RunReport.ToJson(info));
                return 0;
            }
            Console.WriteLine($"submitted run {info.Id} ({info.Strategy}, {Counted.Of(info.RoundsPlanned, "round")})");
            return pr.GetValue(wait) ? await WaitAsync(client, info.Id, pr.GetValue(json), ct) : 0;
        });
        return command;
    }

    private static Command List()
    {
        var control = new ControlOptions();
        var status = new Option<string?>("--status") { Description = "Only runs with this status (queued, running, finished, failed, stopped)" };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("list", "List runs, newest first") { status, json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var runs = await client.ListAsync(pr.GetValue(status), ct);
            if (pr.GetValue(json))
            {
                var reply = new ListRunsReply();
                reply.Runs.AddRange(runs);
                Console.WriteLine(RunReport.ToJson(reply));
                return 0;
            }
            // A failed run's error, or why a running one waits (its counts; run show and run wait give the whole reason).
            var table = new Table().AddColumns("id", "name", "strategy", "status", "rounds", "created", "error or wait");
            foreach (var r in runs)
            {
                string note = r.Error.Length > 0 ? r.Error : r.WaitingReason.Split(';')[0];
                table.AddRow(Markup.Escape(r.Id), Markup.Escape(r.Name), r.Strategy, r.Status, $"{r.RoundsDone}/{r.RoundsPlanned}", r.CreatedAt.Length >= 19 ? r.CreatedAt[..19] : r.CreatedAt, Markup.Escape(note));
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    private static Command Show()
    {
        var control = new ControlOptions();
        var id = new Argument<string>("id") { Description = "Run id" };
        var json = new Option<bool>("--json") { Description = "Print JSON (run, plan, rounds with per-node results, events)" };
        var command = new Command("show", "Show a run: status, rounds with per-node metrics, events") { id, json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var detail = await client.GetAsync(pr.GetValue(id)!, ct);
            if (pr.GetValue(json))
            {
                Console.WriteLine(RunReport.ToJson(detail));
                return 0;
            }
            var r = detail.Run;
            Console.WriteLine($"run {r.Id}  name {r.Name}  experiment {r.Experiment}");
            Console.WriteLine($"  app {r.App}  strategy {r.Strategy}  status {r.Status}  rounds {r.RoundsDone}/{r.RoundsPlanned}{(r.Submitter.Length > 0 ? $"  submitted by {r.Submitter}" : "")}");
            // Only the times a run has reached: a queued run has no start yet, a running one no end.
            Console.WriteLine("  created " + r.CreatedAt + (string.IsNullOrEmpty(r.StartedAt) ? "" : "  started " + r.StartedAt) +
                (string.IsNullOrEmpty(r.FinishedAt) ? "" : "  finished " + r.FinishedAt));
            if (r.Error.Length > 0) Console.WriteLine($"  error: {r.Error}");
            if (r.WaitingReason.Length > 0) Console.WriteLine($"  {r.WaitingReason}");
            foreach (var round in detail.Rounds) Console.WriteLine("  " + RunReport.RoundLine(round, r.RoundsPlanned));
            Console.WriteLine("events:");
            foreach (var e in detail.Events) Console.WriteLine("  " + e);
            return 0;
        });
        return command;
    }

    private static Command Wait()
    {
        var control = new ControlOptions();
        var id = new Argument<string>("id") { Description = "Run id" };
        var json = new Option<bool>("--json") { Description = "Print the final run as JSON" };
        var command = new Command("wait", "Wait for a run to end, printing each round (a server unreachable for up to 2 minutes, a restart, is waited out); exits 1 unless it finished") { id, json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            return await WaitAsync(client, pr.GetValue(id)!, pr.GetValue(json), ct);
        });
        return command;
    }

    private static Command Stop()
    {
        var control = new ControlOptions();
        var id = new Argument<string>("id") { Description = "Run id" };
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("stop", "Stop a queued or running run") { id, json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var info = await client.StopAsync(pr.GetValue(id)!, ct);
            Console.WriteLine(pr.GetValue(json) ? RunReport.ToJson(info) : $"run {info.Id}: {info.Status}");
            return 0;
        });
        return command;
    }

    private static Command MetricsExport()
    {
        var control = new ControlOptions();
        var id = new Argument<string>("id") { Description = "Run id" };
        var format = new Option<string>("--format", "-f") { Description = "csv or json", DefaultValueFactory = _ => "csv" };
        format.AcceptOnlyFromAmong("csv", "json");
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of standard output" };
        var command = new Command("metrics", "Export a run's per-node, per-round metrics and timings (fit/evaluate duration, upload bytes, aggregation and round time)") { id, format, output };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var detail = await client.GetAsync(pr.GetValue(id)!, ct);
            string text = pr.GetValue(format) == "json" ? RunMetricsExport.ToJson(detail) : RunMetricsExport.ToCsv(detail);
            if (pr.GetValue(output) is { } file) await File.WriteAllTextAsync(file, text, ct);
            else Console.Write(text);
            return 0;
        });
        return command;
    }

    /// <summary>How long a wait rides out a server it cannot reach (a restart, an outage) before it gives up.</summary>
    private static readonly TimeSpan UnreachableWait = TimeSpan.FromMinutes(2);

    /// <summary>
    /// Polls a run until it ends, printing each round as it completes; 0 when it finished. Interrupted (Ctrl+C), it says
    /// that only the waiting stopped, not the run, and exits 130.
    /// </summary>
    public static async Task<int> WaitAsync(ControlClient client, string id, bool json, CancellationToken ct)
    {
        try
        {
            return await FollowAsync(client, id, json, ct);
        }
        catch (Exception e) when (ct.IsCancellationRequested && e is OperationCanceledException or CliException)
        {
            Console.Error.WriteLine($"cohort: stopped waiting; run {id} goes on on the server (cohort run stop {id} stops it, cohort run wait {id} follows it again)");
            return 130;
        }
    }

    private static async Task<int> FollowAsync(ControlClient client, string id, bool json, CancellationToken ct)
    {
        int printed = 0;
        string waiting = "";
        DateTime? lostSince = null;
        while (true)
        {
            RunDetail detail;
            try
            {
                detail = await client.GetAsync(id, ct);
            }
            catch (ServerUnreachableException e) when (lostSince is null || DateTime.UtcNow - lostSince < UnreachableWait)
            {
                // A server restart resumes the run: keep waiting for it a while.
                if (lostSince is null) Console.Error.WriteLine($"{e.Message}; still waiting for run {id} (up to {UnreachableWait.TotalMinutes:0} minutes)");
                lostSince ??= DateTime.UtcNow;
                await Task.Delay(1000, ct);
                continue;
            }
            if (lostSince is not null) Console.Error.WriteLine($"server reachable again after {(DateTime.UtcNow - lostSince.Value).TotalSeconds:0}s");
            lostSince = null;
            // Printed when the count changes, not each time a node's busy state does.
            string count = detail.Run.WaitingReason.Split(';')[0];
            if (!json && count != waiting && count.Length > 0) Console.WriteLine(detail.Run.WaitingReason);
            waiting = count;
            foreach (var round in detail.Rounds.Where(r => r.Round > printed).OrderBy(r => r.Round))
            {
                if (!json) Console.WriteLine(RunReport.RoundLine(round, detail.Run.RoundsPlanned));
                printed = round.Round;
            }
            if (detail.Run.TypedStatus().IsFinal())
            {
                if (json) Console.WriteLine(RunReport.ToJson(detail));
                else Console.WriteLine(detail.Run.Error.Length > 0 ? $"run {id} {detail.Run.Status}: {detail.Run.Error}" : $"run {id} {detail.Run.Status}");
                return detail.Run.TypedStatus() == Engine.State.RunStatus.Finished ? 0 : 1;
            }
            await Task.Delay(250, ct);
        }
    }
}
