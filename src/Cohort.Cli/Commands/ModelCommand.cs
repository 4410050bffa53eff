using System.CommandLine;
using Cohort.Cli.Control;
using Cohort.Engine.State;
using Cohort.Parameters;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort model pull</c>: download a run's global model.</summary>
internal static class ModelCommand
{
    /// <summary>Builds the command group.</summary>
    public static Command Create()
    {
        var control = new ControlOptions();
        var run = new Argument<string>("run") { Description = "Run id" };
        var round = new Option<int>("--round", "-r") { Description = "Round whose global model to pull (default: the latest)" };
        var output = new Option<string>("--out", "-o") { Description = "File to write (Cohort parameter file, .cps)", Required = true };
        var pull = new Command("pull", "Download the global model of a run's round") { run, round, output };
        control.AddTo(pull);
        pull.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var (parameters, actual) = await client.PullModelAsync(pr.GetValue(run)!, pr.GetValue(round), ct);
            string path = pr.GetValue(output)!;
            string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
            if (dir is not null) Directory.CreateDirectory(dir);
            await ParameterSetFile.WriteAsync(path, parameters, ct);
            Console.WriteLine($"wrote round {actual} of {pr.GetValue(run)} to {path}: {parameters.Count} tensors, {parameters.ElementCount} values ({string.Join(", ", parameters.Select(t => t.Spec))})");
            // The latest model of a run that did not finish is not the plan's result: say which it is.
            if (pr.GetValue(round) == 0 && (await client.GetAsync(pr.GetValue(run)!, ct)).Run is { } info && info.Status != RunStatus.Finished.ToText())
            {
                string what = actual == 0 ? "its initial model (no round finished)" : $"the model of round {actual} of {info.RoundsPlanned}";
                Console.Error.WriteLine($"note: run {info.Id} is {info.Status}{(info.Error.Length > 0 ? $" ({info.Error})" : "")}; this is {what}");
            }
            return 0;
        });
        var model = new Command("model", "Work with global models");
        model.Subcommands.Add(pull);
        return model;
    }
}
