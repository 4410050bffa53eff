using System.Collections;

namespace Cohort.Engine;

/// <summary>
/// A logging scope of named ids (run, round, node). Loggers that understand structure (JSON console)
/// write each pair as a field; plain loggers print <see cref="ToString"/>: "RunId=… Round=3".
/// </summary>
internal sealed class LogScope(params KeyValuePair<string, object>[] values) : IReadOnlyList<KeyValuePair<string, object>>
{
    /// <summary>The scope of a whole run.</summary>
    public static LogScope Run(string runId) => new(KeyValuePair.Create("RunId", (object)runId));

    /// <summary>The scope of one round, inside its run's (whose RunId it does not repeat).</summary>
    public static LogScope Round(int round) => new(KeyValuePair.Create("Round", (object)round));

    /// <summary>The scope of one node's work.</summary>
    public static LogScope Node(string node) => new(KeyValuePair.Create("NodeId", (object)node));

    /// <inheritdoc />
    public KeyValuePair<string, object> this[int index] => values[index];

    /// <inheritdoc />
    public int Count => values.Length;

    /// <inheritdoc />
    public IEnumerator<KeyValuePair<string, object>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object>>)values).GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <inheritdoc />
    public override string ToString() => string.Join(' ', values.Select(kv => $"{kv.Key}={kv.Value}"));
}
