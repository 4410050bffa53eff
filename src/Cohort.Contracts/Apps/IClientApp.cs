using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Apps;

/// <summary>
/// User code that runs on a node, next to the data: it supplies initial parameters, trains on local
/// data and evaluates. Only the returned parameters and metrics leave the site.
/// </summary>
public interface IClientApp
{
    /// <summary>The model's current parameters (used to initialise a run when the strategy has none).</summary>
    Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct);

    /// <summary>Trains from <paramref name="parameters"/> on local data and returns the updated parameters.</summary>
    Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct);

    /// <summary>Evaluates <paramref name="parameters"/> on local held-out data.</summary>
    Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct);
}

/// <summary>What a fit returns: new parameters, the number of training examples used, and metrics.</summary>
public sealed record FitResult(ParameterSet Parameters, long Examples, Metrics Metrics);

/// <summary>What an evaluation returns: loss, the number of examples evaluated, and metrics.</summary>
public sealed record EvaluateResult(double Loss, long Examples, Metrics Metrics);

/// <summary>What a node knows when it creates a client app for a run.</summary>
/// <param name="RunId">The run the app serves.</param>
/// <param name="NodeName">This site's name.</param>
/// <param name="AppSettings">The plan's <c>app.settings</c>, identical on every node.</param>
/// <param name="NodeSettings">Site-local settings (e.g. <c>data</c>: the local data file), never sent to the server.</param>
/// <param name="Partition">In a simulation (or a node given a partition), the share of a loaded data set this client owns; null when the app reads its own data.</param>
public sealed record ClientAppContext(string RunId, string NodeName, Config AppSettings, Config NodeSettings, DataPartition? Partition = null)
{
    /// <summary>
    /// Where an app writes what must stay on this site, such as the data values and lines behind a problem
    /// its <see cref="IValidatingClientApp"/> check reports to the server: a node writes it to its log, a
    /// simulation to its output. Null drops it.
    /// </summary>
    public Action<string>? SiteLog { get; init; }

    /// <summary>
    /// True where the data is the user's own, as in a simulation: an <see cref="IValidatingClientApp"/> check then reports
    /// each problem once, with the values and lines behind it, in place of the wording for a server and its
    /// <see cref="SiteLog"/> line.
    /// </summary>
    public bool QuoteData { get; init; }
}

/// <summary>Creates the client app a node uses for one run.</summary>
public interface IClientAppFactory
{
    /// <summary>Name a plan uses for the app ("tabular").</summary>
    string Name { get; }

    /// <summary>Creates the app for a run; throws with a clear message when settings or data are wrong.</summary>
    IClientApp Create(ClientAppContext context);
}

/// <summary>A factory from a delegate, for user code.</summary>
public sealed class DelegateClientAppFactory(string name, Func<ClientAppContext, IClientApp> create) : IClientAppFactory
{
    /// <inheritdoc />
    public string Name { get; } = name;

    /// <inheritdoc />
    public IClientApp Create(ClientAppContext context) => create(context);
}
