using System.Collections.Concurrent;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Node;
using Cohort.Transport.Channels;
using Microsoft.Extensions.Logging;

namespace Cohort.Integration.Tests;

/// <summary>A node that cannot reach its server warns once per outage (and once a minute while it lasts), not once per attempt.</summary>
public sealed class NodeOutageLogTests
{
    [Fact]
    public async Task A_node_retrying_a_stopped_server_warns_once_and_says_when_it_is_back()
    {
        var server = await TestServer.StartAsync();
        string dataDir = server.DataDir;
        int port = server.Port;
        var log = new RecordingLogger();
        using var stop = new CancellationTokenSource();
        Task? node = null;
        try
        {
            var options = new NodeOptions
            {
                Connection = new ConnectionOptions(server.Host.Address.ToString(), await server.Control.CreateNodeTokenAsync("site1", default), server.Host.CaFile),
                Name = "site1",
                Logger = log,
                // Attempts at most 0.1 s apart: the outage below holds dozens of them.
                MaxBackoff = TimeSpan.FromMilliseconds(100),
            };
            node = CohortNode.RunAsync(new Cohort.Apps.Empty.EmptyAppFactory(), options, stop.Token);
            await server.WaitForNodesAsync(1);

            // Stopped, its data folder kept: the same CA, tokens and port when it starts again.
            await server.StopAsync();
            var outage = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (log.Count(LogLevel.Debug, "unreachable") + log.Count(LogLevel.Warning, "unreachable") < 11)
            {
                Assert.True(DateTime.UtcNow < outage, $"fewer than 11 failed attempts logged in 30s:\n{log}");
                await Task.Delay(100);
            }
            server = await TestServer.StartAsync(dataDir, port);
            await server.WaitForNodesAsync(1);
            var back = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (log.Count(LogLevel.Information, "reachable again") == 0 && DateTime.UtcNow < back) await Task.Delay(50);

            Assert.True(log.Count(LogLevel.Warning, "unreachable") == 1, $"one warning for the outage expected:\n{log}");
            var recovered = Assert.Single(log.Lines(LogLevel.Information, "reachable again"));
            int attempts = int.Parse(System.Text.RegularExpressions.Regex.Match(recovered, @"after (\d+) failed attempts").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(attempts >= 11, $"the first attempt's warning and at least 10 more at debug level: {recovered}");
        }
        finally
        {
            await stop.CancelAsync();
            if (node is not null) await node.WaitAsync(TimeSpan.FromSeconds(30));
            await server.DisposeAsync();
        }
    }

    private sealed class RecordingLogger : ILogger
    {
        private readonly ConcurrentQueue<(LogLevel Level, string Message)> _lines = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue((logLevel, formatter(state, exception)));

        public IEnumerable<string> Lines(LogLevel level, string text) =>
            _lines.Where(l => l.Level == level && l.Message.Contains(text, StringComparison.Ordinal)).Select(l => l.Message);

        public int Count(LogLevel level, string text) => Lines(level, text).Count();

        public override string ToString() => string.Join('\n', _lines.Select(l => $"{l.Level}: {l.Message}"));
    }
}
