using Cohort.Node;
using Cohort.Transport.Channels;
using CohortApp;
using Microsoft.Extensions.Logging;

// This site's node: hosts the client app and joins the federation at SERVER_URL.
// Usage: CohortApp SERVER_URL NODE_NAME CA_FILE DATA_CSV   (the node's token in $COHORT_NODE_TOKEN)
if (args.Length != 4)
{
    Console.Error.WriteLine("usage: CohortApp SERVER_URL NODE_NAME CA_FILE DATA_CSV  (token in $COHORT_NODE_TOKEN)");
    return 2;
}
string token = Environment.GetEnvironmentVariable("COHORT_NODE_TOKEN") ?? "";
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
// SIGTERM (kill, systemd, a container stopping) ends the node as Ctrl+C does.
using var onTerm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; cancel.Cancel(); });
using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));

LogisticApp app;
try
{
    app = LogisticApp.FromCsv(args[3]);
}
catch (Exception e) when (e is IOException or FormatException)
{
    Console.Error.WriteLine($"CohortApp: {e.Message}");
    return 2;
}
try
{
    // The name the plan's `app.name` selects: the project's name in lower case.
    await CohortNode.RunAsync(app, "cohortapp", new NodeOptions
    {
        Connection = new ConnectionOptions(args[0], token, CaFile: args[2]),
        Name = args[1],
        Logger = logging.CreateLogger("CohortApp"),
    }, cancel.Token);
}
catch (Exception e) when (e is NodeRefusedException or ArgumentException)
{
    // The server refused this node (no token, another node's token, a revoked one) or a file named above is missing.
    Console.Error.WriteLine($"CohortApp: {e.Message}");
    return 2;
}
return 0;
