using System.Collections.Concurrent;
using Cohort.Apps;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Node;
using Cohort.Parameters;
using Cohort.Records;
using Cohort.Transport.Channels;
using Microsoft.Extensions.Logging;

namespace Cohort.Integration.Tests;

/// <summary>An app that throws: the server hears the exception's message only, and the node's log carries the exception itself.</summary>
public sealed class AppFaultLogTests
{
    [Fact]
    public async Task An_app_that_throws_in_fit_fails_the_round_with_its_message_and_the_nodes_log_holds_its_stack_trace()
    {
        await using var server = await TestServer.StartAsync();
        var log = new ExceptionLog();
        using var stop = new CancellationTokenSource();
        var node = await HostAsync(server, new ThrowingApp(), log, stop.Token);
        try
        {
            await server.WaitForNodesAsync(1);
            var run = await server.Control.SubmitAsync(TestPlans.Empty(rounds: 1, minAvailable: 1, minFit: 1), "throws", default);
            var done = await server.WaitForRunAsync(run.Id);

            Assert.Equal("failed", done.Run.Status);
            Assert.Contains("site1: node error: Index was outside the bounds of the array.", done.Run.Error);
            Assert.DoesNotContain(nameof(ThrowingApp), done.Run.Error);
            var (line, exception) = Assert.Single(log.Warnings, w => w.Line.Contains("failed (ClientError)", StringComparison.Ordinal));
            Assert.EndsWith("Index was outside the bounds of the array.", line);
            Assert.IsType<IndexOutOfRangeException>(exception);
            Assert.Contains($"{nameof(ThrowingApp)}.{nameof(ThrowingApp.FitAsync)}", exception!.StackTrace);
        }
        finally
        {
            await stop.CancelAsync();
            await node.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    [Fact]
    public async Task A_plan_giving_app_settings_to_a_hosted_app_instance_is_told_in_the_nodes_log_once_per_run()
    {
        await using var server = await TestServer.StartAsync();
        var log = new ExceptionLog();
        using var stop = new CancellationTokenSource();
        var node = await HostAsync(server, new Cohort.Apps.Empty.EmptyAppFactory().Create(new ClientAppContext("r", "site1", Config.Empty, Config.Empty)), log, stop.Token);
        try
        {
            await server.WaitForNodesAsync(1);
            string plan = TestPlans.Empty(rounds: 2, minAvailable: 1, minFit: 1).Replace("app: { name: empty }", "app: { name: empty, settings: { values: 8, fill: 1 } }", StringComparison.Ordinal);
            var run = await server.Control.SubmitAsync(plan, "settings", default, skipPreflight: true);
            var done = await server.WaitForRunAsync(run.Id);

            Assert.Equal("finished", done.Run.Status);
            var (line, _) = Assert.Single(log.Warnings, w => w.Line.Contains("that this node's app never reads", StringComparison.Ordinal));
            Assert.Contains($"run {run.Id} gives app settings (fill, values)", line, StringComparison.Ordinal);
        }
        finally
        {
            await stop.CancelAsync();
            await node.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    // Node site1 hosting one app instance as app 'empty', logging to log.
    private static async Task<Task> HostAsync(TestServer server, IClientApp app, ExceptionLog log, CancellationToken stop)
    {
        var options = new NodeOptions
        {
            Connection = new ConnectionOptions(server.Host.Address.ToString(), await server.Control.CreateNodeTokenAsync("site1", default), server.Host.CaFile),
            Name = "site1",
            Logger = log,
        };
        return CohortNode.RunAsync(app, "empty", options, stop);
    }

    private sealed class ThrowingApp : IClientApp
    {
        private static readonly int[] Columns = new int[4];

        public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
            Task.FromResult(new ParameterSet([Tensor.Zeros("w", DType.Float32, [4])]));

        // An app's own bug: a row with more columns than the model expects.
        public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new FitResult(parameters, Columns[Columns.Length + config.Count], Metrics.Empty));

        public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct) =>
            Task.FromResult(new EvaluateResult(0, 1, Metrics.Empty));
    }

    private sealed class ExceptionLog : ILogger
    {
        private readonly ConcurrentQueue<(string Line, Exception? Exception)> _warnings = new();

        public IReadOnlyList<(string Line, Exception? Exception)> Warnings => [.. _warnings];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning) _warnings.Enqueue((formatter(state, exception), exception));
        }
    }
}
