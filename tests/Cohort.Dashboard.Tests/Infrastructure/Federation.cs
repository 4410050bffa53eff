using System.Globalization;
using Cohort.Apps.Empty;
using Cohort.Apps.Tabular;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Node;
using Cohort.Plans;
using Cohort.Records;
using Cohort.Server.Hosting;
using Cohort.Server.Runs;
using Cohort.Server.Security;
using Cohort.Transport.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Dashboard.Tests.Infrastructure;

/// <summary>
/// A real server (TLS, generated CA) with five in-process nodes: two hospitals with the tabular app, a third
/// whose data file is missing (every task it gets fails with the app's error) and two empty-app nodes. Two short heart-disease runs finish first (real metrics to chart and compare); then a
/// slow empty-app run stays in progress for the whole test session (live updates, viewer refusals).
/// </summary>
public sealed class Federation : IAsyncLifetime
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _nodes = [];

    /// <summary>The server.</summary>
    public CohortServerHost Host { get; private set; } = null!;

    /// <summary>Its state.</summary>
    internal IStateStore Store => Host.Services.GetRequiredService<IStateStore>();

    /// <summary>First finished heart-disease run (learning rate 0.002).</summary>
    public string HeartRun { get; private set; } = "";

    /// <summary>Second finished heart-disease run (learning rate 0.02), for comparisons.</summary>
    public string HeartRunFast { get; private set; } = "";

    /// <summary>The run in progress while tests look at it.</summary>
    public string SlowRun { get; private set; } = "";

    /// <summary>A viewer token (read-only role).</summary>
    public string ViewerToken { get; private set; } = "";

    /// <summary>Names of the tabular nodes.</summary>
    public static readonly string[] Hospitals = ["cleveland", "hungarian"];

    /// <summary>The tabular node whose data file does not exist.</summary>
    public const string BrokenHospital = "switzerland";

    /// <summary>Names of the empty-app nodes.</summary>
    public static readonly string[] EmptyNodes = ["e1", "e2"];

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        string dataDir = Path.Combine(Path.GetTempPath(), "cohort-dash-" + Guid.NewGuid().ToString("N")[..8]);
        Host = await CohortServerHost.StartAsync(new ServerOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            DashboardPort = 0,
            DataDir = dataDir,
            NodeTimeout = TimeSpan.FromSeconds(3),
            HeartbeatInterval = TimeSpan.FromMilliseconds(300),
            PlanDirectories = [Path.Combine(Repo.Root, "examples")],
        }, logLevel: Environment.GetEnvironmentVariable("COHORT_TEST_LOG") == "1" ? LogLevel.Warning : LogLevel.Error);
        ViewerToken = Host.Services.GetRequiredService<ViewerTokens>().Issue("alice");

        var auth = Host.Services.GetRequiredService<NodeAuthenticator>();
        foreach (var h in Hospitals)
            await StartNodeAsync(auth, h, new TabularAppFactory(), [new("data", Repo.HeartData(h))], new Dictionary<string, string> { ["heart"] = Repo.HeartData(h) });
        await StartNodeAsync(auth, BrokenHospital, new TabularAppFactory(), [new("data", Path.Combine(dataDir, "missing.data"))]);
        foreach (var e in EmptyNodes)
            await StartNodeAsync(auth, e, new EmptyAppFactory(), [new("delay_ms", "400"), new("values", "64")]);
        await WaitForNodesAsync(NodeCount);

        var runs = Host.Services.GetRequiredService<RunManager>();
        // The broken hospital must take part so its failures show; the preflight would refuse it at submit.
        HeartRun = (await runs.SubmitAsync(HeartPlan(rounds: HeartRounds, learningRate: "0.002"), "heart.yaml", CancellationToken.None, skipPreflight: true)).Id;
        await WaitForRunAsync(HeartRun);
        HeartRunFast = (await runs.SubmitAsync(HeartPlan(rounds: HeartRounds, learningRate: "0.02"), "heart-fast.yaml", CancellationToken.None, skipPreflight: true)).Id;
        await WaitForRunAsync(HeartRunFast);
        SlowRun = (await runs.SubmitAsync(SlowPlan, "slow.yaml", CancellationToken.None)).Id;
        await WaitUntilAsync(async () => (await Store.ListRoundsAsync(SlowRun, CancellationToken.None)).Count >= 1, "the slow run's first round");
    }

    /// <summary>Rounds of each heart-disease run.</summary>
    public const int HeartRounds = 8;

    /// <summary>All nodes.</summary>
    public static int NodeCount => Hospitals.Length + 1 + EmptyNodes.Length;

    /// <summary>The heart-disease plan for the tabular hospitals: two must deliver, the broken one fails every task.</summary>
    public static string HeartPlan(int rounds, string learningRate) => PlanText.WithValues(Repo.HeartPlan,
    [
        ("rounds", rounds.ToString(CultureInfo.InvariantCulture)),
        ("selection.min_available", "2"),
        ("selection.min_fit", "2"),
        ("selection.min_evaluate", "2"),
        ("train.learning_rate", learningRate),
        ("train.local_steps", "20"),
        ("wait_for_nodes", "30s"),
    ]);

    /// <summary>An empty-app run long enough to outlast the tests (stopped at the end).</summary>
    public const string SlowPlan = """
        name: slow-empty
        experiment: drills
        tags: [empty]
        app: { name: empty }
        strategy: { name: fedavg }
        rounds: 2000
        selection: { min_available: 2, min_fit: 2, min_evaluate: 2, fraction_fit: 1.0, fraction_evaluate: 1.0 }
        round_timeout: 30s
        wait_for_nodes: 30s
        """;

    /// <summary>Waits until a run ends.</summary>
    public Task WaitForRunAsync(string id) => WaitUntilAsync(async () =>
        (await Store.GetRunAsync(id, CancellationToken.None)) is { } r && r.Status.IsFinal(), $"run {id} to end", TimeSpan.FromSeconds(60));

    /// <summary>Polls <paramref name="condition"/> until true or the timeout.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }

    private async Task StartNodeAsync(NodeAuthenticator auth, string name, Cohort.Apps.IClientAppFactory factory, KeyValuePair<string, Scalar>[] settings, IReadOnlyDictionary<string, string>? datasets = null)
    {
        string token = await auth.IssueAsync(name, CancellationToken.None);
        var options = new NodeOptions
        {
            Connection = new ConnectionOptions(Host.Address.ToString(), token, Host.CaFile),
            Name = name,
            NodeSettings = new Config(settings),
            Datasets = datasets ?? new Dictionary<string, string>(),
            PollWait = TimeSpan.FromSeconds(2),
        };
        _nodes.Add(Task.Run(() => CohortNode.RunAsync(factory, options, _stop.Token)));
    }

    private Task WaitForNodesAsync(int count) => WaitUntilAsync(() =>
        Task.FromResult(Host.Services.GetRequiredService<Cohort.Server.Fleet.NodeRegistry>().Online().Count >= count), $"{count} nodes online");

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await Host.Services.GetRequiredService<RunManager>().StopAsync(SlowRun, CancellationToken.None);
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_nodes).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
        string dataDir = Host.DataDir;
        await Host.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Tests sharing one federation and one browser.</summary>
[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<Federation>, ICollectionFixture<Browser>
{
    /// <summary>Collection name.</summary>
    public const string Name = "dashboard";
}
