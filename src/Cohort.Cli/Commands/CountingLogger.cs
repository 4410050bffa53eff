using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Cohort.Cli.Commands;

/// <summary>
/// A logger that keeps nothing but a count of warnings and errors and the first few of their messages:
/// many in-process node clients share it, so a benchmark can report their troubles without a log per node.
/// </summary>
internal sealed class CountingLogger : ILogger
{
    private const int KeptMessages = 10;
    private readonly ConcurrentQueue<string> _first = new();
    private int _warnings;

    /// <summary>Warnings and errors logged so far.</summary>
    public int Warnings => Volatile.Read(ref _warnings);

    /// <summary>The first messages of those warnings and errors, in order.</summary>
    public IReadOnlyList<string> FirstMessages => [.. _first];

    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        if (Interlocked.Increment(ref _warnings) <= KeptMessages)
            _first.Enqueue($"{DateTime.UtcNow:HH:mm:ss} {logLevel}: {formatter(state, exception)}");
    }
}
