using System.CommandLine;

namespace Cohort.Cli.Commands;

/// <summary>
/// <c>cohort ca</c>: prints the CA certificate (PEM) that a server generated and its nodes must trust.
/// Container images have no shell or cat, so this is how the certificate leaves a server's volume.
/// </summary>
internal static class CaCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "The server's data folder", DefaultValueFactory = _ => ".cohort" };
        var command = new Command("ca", "Print the server's generated CA certificate (PEM), the file nodes pass to --ca") { dataDir };
        command.SetAction(async (pr, ct) =>
        {
            string file = Path.Combine(pr.GetValue(dataDir)!, "tls", "ca.crt");
            if (!File.Exists(file)) throw new CliException($"{file} not found: start the server once with this --data-dir (without --insecure or --tls-cert) to generate its CA");
            Console.Write(await File.ReadAllTextAsync(file, ct));
            return 0;
        });
        return command;
    }
}
