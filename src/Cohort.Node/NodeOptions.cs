using Cohort.Records;
using Cohort.Transport.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cohort.Node;

/// <summary>Settings of a node agent.</summary>
public sealed record NodeOptions
{
    /// <summary>Server address, node token and TLS trust.</summary>
    public required ConnectionOptions Connection { get; init; }

    /// <summary>This site's name; must match the name its token was issued for.</summary>
    public required string Name { get; init; }

    /// <summary>Identifies this node process to the server, which refuses a second live process under the same name.</summary>
    public string Session { get; init; } = Guid.NewGuid().ToString("N");

    /// <summary>Site-local settings handed to the client app (e.g. <c>data</c>: the local data file). Never sent to the server.</summary>
    public Config NodeSettings { get; init; } = Config.Empty;

    /// <summary>
    /// What this site accepts to train for, checked before every task; a task outside it is refused with
    /// the reason and never reaches the app. Null accepts every task the server sends.
    /// </summary>
    public Sites.SitePolicy? Policy { get; init; }

    /// <summary>
    /// Tasks this node runs at the same time (at least 1; default 1). Tasks of different runs then run in
    /// parallel, each run on its own app instance; tasks of one run (one app instance) still run one at a time.
    /// </summary>
    public int Capacity { get; init; } = 1;

    /// <summary>
    /// The data sets this site holds, by name (<c>cohort node --data NAME=PATH</c>). The node declares each
    /// to the server with its schema hash (never its content); a run whose plan names one gets its path as
    /// the app's node setting <c>data</c>. With no <c>data</c> node setting and exactly one data set, a run
    /// that names none gets that one; with several, such a run is refused (its preflight and its tasks).
    /// </summary>
    public IReadOnlyDictionary<string, string> Datasets { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Largest model, in bytes, this node accepts from the server for one task (default 4 GiB, what the server's
    /// strategies hold by default; <c>cohort node --max-model-bytes</c>). Checked against the model's manifest before
    /// anything is allocated: a task over it fails with a message naming the limit, and the node goes on serving.
    /// A site policy's <c>max_model_bytes</c>, when lower, applies instead. A manifest may also list at most 65,536 tensors.
    /// </summary>
    public long MaxModelBytes { get; init; } = ModelLimits.DefaultMaxModelBytes;

    /// <summary>How long one task poll waits at the server.</summary>
    public TimeSpan PollWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest pause between reconnection attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Folder where the node keeps its own audit ledger (<c>audit.jsonl</c>: every task received and result sent, with
    /// digests of the parameters), signed with the node's client certificate key when it has one; null keeps none.
    /// </summary>
    public string? StateDir { get; init; }

    /// <summary>Where the agent logs.</summary>
    public ILogger Logger { get; init; } = NullLogger.Instance;
}
