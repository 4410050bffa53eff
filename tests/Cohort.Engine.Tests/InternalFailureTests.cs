using Cohort.Apps;
using Cohort.Clients;
using Cohort.Engine.Models;
using Cohort.Engine.Nodes;
using Cohort.Engine.Runs;
using Cohort.Engine.State;
using Cohort.Plans;
using Cohort.Strategies;
using Microsoft.Extensions.Logging;

namespace Cohort.Engine.Tests;

/// <summary>A defect in Cohort's own code around an app is not the site's failure: it is typed Internal and logged with its stack trace.</summary>
public sealed class InternalFailureTests
{
    /// <summary>A client step with a bug that shows in fit tasks.</summary>
    private sealed class DefectiveStep : IClientStep
    {
        public Task<ClientReply> InvokeAsync(ClientTask task, ClientTaskHandler next, CancellationToken ct) =>
            task.Kind == TaskKind.Fit ? throw new NullReferenceException("step bug") : next(task, ct);
    }

    /// <summary>Keeps what is logged at warning or above.</summary>
    private sealed class ListLogger<T> : ILogger<T>
    {
        public List<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            lock (Entries) Entries.Add((logLevel, formatter(state, exception), exception));
        }
    }

    [Fact]
    public async Task The_app_failing_is_a_client_error_and_a_step_failing_is_internal_with_the_exception_kept()
    {
        var task = new ClientTask("r", "n", 1, TaskKind.Fit, Records.Config.Empty, new Parameters.ParameterSet([Parameters.Tensor.Zeros("w", Parameters.DType.Float32, [4])]));

        var appFault = await new ClientTaskRunner().RunAsync(new BrokenApp(), task, CancellationToken.None);
        Assert.Equal(FailureKind.ClientError, appFault.Failure);
        Assert.Equal("disk on fire", appFault.Error);
        Assert.Null(appFault.Fault);

        var ours = await new ClientTaskRunner(new DefectiveStep()).RunAsync(new StepApp(), task, CancellationToken.None);
        Assert.Equal(FailureKind.Internal, ours.Failure);
        Assert.Equal("internal error: NullReferenceException: step bug", ours.Error);
        Assert.IsType<NullReferenceException>(ours.Fault);
    }

    [Fact]
    public async Task A_defect_around_an_app_fails_the_task_as_internal_and_the_executor_logs_its_stack_trace()
    {
        var plan = PlanParser.Parse("""
            name: defect
            app: { name: step }
            strategy: { name: fedavg }
            rounds: 1
            selection: { min_available: 2, min_fit: 1, fraction_evaluate: 0.0 }
            round_timeout: 30s
            seed: 5
            """, "defect.yaml", StrategyRegistry.CreateDefault());
        var apps = new Dictionary<string, IClientApp>(StringComparer.Ordinal) { ["n01"] = new StepApp(), ["n02"] = new StepApp() };
        var pool = new InProcessNodePool("step", apps, new InProcessPoolOptions { Runner = new ClientTaskRunner(new DefectiveStep()) });
        var store = new InMemoryStateStore();
        var log = new ListLogger<RunExecutor>();
        var executor = new RunExecutor(pool, store, new InMemoryModelStore(), StrategyRegistry.CreateDefault(), StrategyServices.None, log);
        var run = new RunRecord("r1", plan.Name, plan.Name, plan.App.Name, plan.Strategy.Name, RunStatus.Running, 1, 0, plan.SourceText, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, null, null);

        // The initial model comes through the chain untouched; every fit meets the defect.
        var failed = await Assert.ThrowsAsync<RunFailedException>(() => executor.ExecuteAsync(run, plan, 1, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("internal error: NullReferenceException: step bug", failed.Message, StringComparison.Ordinal);
        var results = await store.ListNodeResultsAsync(run.Id, CancellationToken.None);
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.Equal(FailureKind.Internal, r.Failure));
        var logged = log.Entries.Where(e => e.Level == LogLevel.Error).ToArray();
        Assert.Equal(results.Count, logged.Length);
        Assert.All(logged, e => Assert.Contains(nameof(DefectiveStep), Assert.IsType<NullReferenceException>(e.Exception).StackTrace, StringComparison.Ordinal));
    }
}
