namespace Cohort.Server.Dashboard.Charts;

/// <summary>How a series is drawn: the global model's federated or central evaluation, one node, or one run (compare).</summary>
internal enum SeriesKind
{
    /// <summary>Aggregated over the nodes (federated evaluation).</summary>
    Federated,

    /// <summary>The server's own evaluation of the global model.</summary>
    Central,

    /// <summary>One node's own value; toggleable.</summary>
    Node,

    /// <summary>One run in a comparison.</summary>
    Run,
}

/// <summary>One curve: a name, a kind and its (round, value) points in round order.</summary>
internal sealed record ChartSeries(string Name, SeriesKind Kind, IReadOnlyList<(double X, double Y)> Points);
