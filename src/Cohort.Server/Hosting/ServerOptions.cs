namespace Cohort.Server.Hosting;

/// <summary>Settings of a Cohort server.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to listen on.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>Port for the Fleet and Control APIs; 0 picks a free one.</summary>
    public int Port { get; init; } = 7300;

    /// <summary>
    /// Port of the dashboard listener (HTTP/1.1, HTTPS when TLS is on; also /metrics and health); 0 picks a free
    /// one, -1 serves no dashboard. Null: <see cref="Port"/> + 1, or a free port when <see cref="Port"/> is 0.
    /// </summary>
    public int? DashboardPort { get; init; }

    /// <summary>Folders with plan files (*.yaml) the dashboard offers as examples when starting a run.</summary>
    public IReadOnlyList<string> PlanDirectories { get; init; } = [];

    /// <summary>Write logs as JSON lines (with run, round and node ids as fields) instead of plain lines.</summary>
    public bool JsonLogs { get; init; }

    /// <summary>Folder for the state database, model store, TLS material and admin token.</summary>
    public string DataDir { get; init; } = ".cohort";

    /// <summary>PEM certificate for TLS; when neither this nor <see cref="Insecure"/> is set, a CA and certificate are generated in the data folder.</summary>
    public string? TlsCertFile { get; init; }

    /// <summary>PEM private key for <see cref="TlsCertFile"/>.</summary>
    public string? TlsKeyFile { get; init; }

    /// <summary>Serve plaintext HTTP/2 (local development only; refused on a non-loopback <see cref="Host"/> unless <see cref="AllowInsecureNetwork"/>).</summary>
    public bool Insecure { get; init; }

    /// <summary>Allow <see cref="Insecure"/> on an address other than loopback (tokens then cross the network in clear).</summary>
    public bool AllowInsecureNetwork { get; init; }

    /// <summary>Token operators present to the Control API; generated into the data folder when null.</summary>
    public string? AdminToken { get; init; }

    /// <summary>How often nodes are told to heartbeat.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Silence after which a node is marked offline and its tasks fail.</summary>
    public TimeSpan NodeTimeout { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>Extra host names or addresses for a generated certificate.</summary>
    public IReadOnlyList<string> TlsNames { get; init; } = [];

    /// <summary>
    /// Mutual TLS: every node must also present a client certificate issued by the client CA whose common name is its
    /// node name. Null: on when the server runs with a federation CA (<see cref="ClientCaFile"/> given, or a
    /// provisioned CA in DATA_DIR/tls), off with the CA the server generates for itself.
    /// </summary>
    public bool? RequireNodeCertificates { get; init; }

    /// <summary>PEM certificate revocation list checked on every node and admin certificate, re-read when it changes; null: <c>crl.pem</c> beside the client CA, when present.</summary>
    public string? RevocationListFile { get; init; }

    /// <summary>PEM CA that issues node certificates; defaults to the generated CA.</summary>
    public string? ClientCaFile { get; init; }

    /// <summary>
    /// Start even though the SQLite state is damaged (it is moved aside to cohort.db.damaged-TIME and an
    /// empty one begins) or empty beside existing models (they stay on disk, unknown to the new state).
    /// </summary>
    public bool Repair { get; init; }

    /// <summary>PostgreSQL connection string for the state store; null keeps the embedded SQLite file in the data folder.</summary>
    public string? Database { get; init; }

    /// <summary>Memory sum-based strategies may hold in pending fit results to fold them in batches (0 folds each at once).</summary>
    public long AggregationBufferBytes { get; init; } = Strategies.StrategyServices.DefaultAggregationBufferBytes;

    /// <summary>
    /// Memory the strategies that need every update (median, trimmed mean, Krum, Bulyan) may hold in a
    /// round's updates, in bytes; past it they keep updates on disk in the data folder (spool/) and read
    /// them a chunk at a time, for the same model; 0 keeps every such update on disk.
    /// </summary>
    public long UpdateMemoryBytes { get; init; } = Strategies.StrategyServices.DefaultUpdateMemoryBytes;

    /// <summary>
    /// Disk the sum-based strategies (FedAvg, FedProx, FedAvgM, FedOpt) may keep in a round's spooled fit
    /// results, in bytes, to fold them when the round completes one accumulator segment at a time (server
    /// memory about twice the model instead of three times); results past it are folded as they arrive; 0
    /// folds every one at once.
    /// </summary>
    public long SpoolHoldBytes { get; init; } = Strategies.StrategyServices.DefaultSpoolHoldBytes;

    /// <summary>Largest parameter set a node may upload, in bytes.</summary>
    public long MaxUploadBytes { get; init; } = 4L << 30;

    /// <summary>Memory all parameter uploads in progress may hold together, in bytes; an upload reserves its declared size.</summary>
    public long UploadMemoryBytes { get; init; } = 1L << 30;

    /// <summary>
    /// Fit results of at least this many bytes are received to a file in the data folder (spool/) instead
    /// of memory and folded into the aggregate from there a block at a time, so they count against no
    /// upload memory and a round holds no node's model whole; 0 receives every result to memory.
    /// </summary>
    public long SpoolUploadBytes { get; init; } = 16L << 20;

    /// <summary>Memory one node's uploads in progress may hold together, in bytes.</summary>
    public long NodeUploadMemoryBytes { get; init; } = 512L << 20;

    /// <summary>How long an upload waits for memory held by other uploads before it is refused (ResourceExhausted).</summary>
    public TimeSpan UploadBudgetWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Silence within a result upload (between two messages) after which it is abandoned and its memory freed.</summary>
    public TimeSpan UploadIdleTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Failed authentications (API calls and dashboard logins) one address (an IPv6 /64) may make per minute before it is refused for the rest of that minute.</summary>
    public int FailedAuthenticationsPerMinute { get; init; } = 30;

    /// <summary>Password checks (PBKDF2 derivations of logins) that may run at once, server-wide.</summary>
    public int PasswordChecksAtOnce { get; init; } = Security.PasswordChecks.DefaultAtOnce;

    /// <summary>Password checks that may wait for one of <see cref="PasswordChecksAtOnce"/>; a login past them is refused at once (ResourceExhausted, HTTP 429).</summary>
    public int PasswordChecksQueued { get; init; } = 8;

    /// <summary>PBKDF2-SHA256 iterations for new password hashes; stored with each hash, so raising it later keeps old ones working (they are rehashed at the next login).</summary>
    public int PasswordIterations { get; init; } = Security.PasswordHash.DefaultIterations;

    /// <summary>
    /// True (the default): each finished round's record, model and strategy state are flushed to disk, so
    /// they survive a power loss. False: everything survives a crash of the server process; a power loss may
    /// take the last rounds, which a resumed run repeats (identically: aggregation is reproducible).
    /// </summary>
    public bool SyncRounds { get; init; } = true;

    /// <summary>
    /// Every this many recorded rounds the server gives memory back (one compacting collection and a trim of
    /// the native heap, on its own task after the round), so resident memory stays flat over long runs; 0 turns it off.
    /// </summary>
    public int MemoryHygieneRounds { get; init; } = 25;

    /// <summary>
    /// The least time between two passes that rounds made due (heap growth and node registrations do not wait for it),
    /// for rounds so fast that a pass every <see cref="MemoryHygieneRounds"/> of them costs more CPU than wanted; it lets
    /// resident memory rise further between passes. Zero (the default): every <see cref="MemoryHygieneRounds"/> rounds,
    /// however fast.
    /// </summary>
    public TimeSpan MemoryHygieneSpacing { get; init; } = TimeSpan.Zero;
}
