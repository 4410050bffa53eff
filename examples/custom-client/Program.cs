using Cohort.Node;
using Cohort.Transport.Channels;
using CustomClient;
using Microsoft.Extensions.Logging;

// A site's node hosting its own client app: the few lines user code needs.
// Usage: custom-client SERVER_URL NODE_NAME CA_FILE SITE_INDEX   (token in $COHORT_NODE_TOKEN)
if (args.Length != 4 || !int.TryParse(args[3], out int site))
{
    Console.Error.WriteLine("usage: custom-client SERVER_URL NODE_NAME CA_FILE SITE_INDEX  (token in $COHORT_NODE_TOKEN)");
    return 2;
}
string token = Environment.GetEnvironmentVariable("COHORT_NODE_TOKEN") ?? "";
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
using var logging = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));

var app = new LineFitApp(seed: site, offset: site);
await CohortNode.RunAsync(app, "line-fit", new NodeOptions
{
    Connection = new ConnectionOptions(args[0], token, CaFile: args[2]),
    Name = args[1],
    Logger = logging.CreateLogger("custom-client"),
}, cancel.Token);
return 0;
