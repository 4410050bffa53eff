using System.CommandLine;
using Cohort.Cli;
using Cohort.Cli.Commands;
using Cohort.Cli.Demo;
using Cohort.Cli.Plugins;

// Logs and pipes have no terminal width; Spectre would otherwise wrap tables at 80 columns.
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 250;

var root = new RootCommand("Cohort: federated learning for .NET");
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(ServerCommand.Create());
root.Subcommands.Add(NodeCommand.Create());
root.Subcommands.Add(RunCommands.Create());
root.Subcommands.Add(PlanCommand.Create());
root.Subcommands.Add(ModelCommand.Create());
root.Subcommands.Add(TokenCommand.Create());
root.Subcommands.Add(TokenCommand.CreateNodes());
root.Subcommands.Add(UsersCommand.Create());
root.Subcommands.Add(UsersCommand.CreateLogin());
root.Subcommands.Add(UsersCommand.CreateLogout());
root.Subcommands.Add(CertsCommand.Create());
root.Subcommands.Add(SimulateCommand.Create());
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(HealthCommand.Create());
root.Subcommands.Add(CaCommand.Create());
root.Subcommands.Add(AuditCommand.Create());
root.Subcommands.Add(StrategiesCommand.Create());

// A server or node that a demo or bench started stops when that parent is gone, as on Ctrl+C.
var parentGone = ParentLifeline.Watch();

try
{
    var parsed = root.Parse(args);
    // A mistyped option or value is one line each naming it, and where to read more, not the whole help after it.
    if (parsed.Errors.Count > 0 && args.Length > 0) return CommandLineErrors.Report(parsed);
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, parentGone);
}
catch (Exception e) when (e is CliException or Cohort.Engine.State.StateIntegrityException or Cohort.Plans.PlanException or InvalidDataException or FileNotFoundException or ArgumentException
    or Cohort.Server.Hosting.PortInUseException)
{
    // A plan with several problems names each on a line of its own.
    foreach (string line in (e is Cohort.Plans.PlanException plan ? plan.Report : e.Message).TrimEnd().Split('\n'))
        Console.Error.WriteLine($"cohort: {line}");
    if (e is FileNotFoundException { FileName: not null } && PluginLoader.Loaded.Count > 0)
        Console.Error.WriteLine($"cohort: a plugin's dependency? Loaded: {string.Join(", ", PluginLoader.Loaded.Select(Path.GetFileName))}. A plugin's own dependencies must lie beside it with its .deps.json: `dotnet publish` it and pass the published .dll (`dotnet build` leaves NuGet packages out)");
    return 1;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cohort: cancelled");
    return 130;
}
catch (Exception e) when (Environment.GetEnvironmentVariable("COHORT_DEBUG") is null)
{
    Console.Error.WriteLine($"cohort: {e.GetType().Name}: {e.Message} (set COHORT_DEBUG=1 for details)");
    return 1;
}
