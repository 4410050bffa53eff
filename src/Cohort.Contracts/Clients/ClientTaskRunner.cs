using Cohort.Apps;

namespace Cohort.Clients;

/// <summary>
/// Runs one task on a client app through a chain of <see cref="IClientStep"/>s (outermost first), the
/// same for a real node, an in-process pool and a simulation's virtual clients. Whatever the app throws
/// becomes a typed failure: cancellation as <see cref="FailureKind.Cancelled"/>, anything else as
/// <see cref="FailureKind.ClientError"/>. What a step (Cohort's own code) throws is a defect:
/// <see cref="FailureKind.Internal"/>, with the exception in <see cref="ClientReply.Fault"/> for the caller's log.
/// </summary>
internal sealed class ClientTaskRunner
{
    private readonly IClientStep[] _steps;

    /// <summary>A runner with <paramref name="steps"/>, outermost first.</summary>
    public ClientTaskRunner(params IEnumerable<IClientStep> steps) => _steps = [.. steps];

    /// <summary>The chain a node uses: local differential privacy around personalisation (the server validates what arrives).</summary>
    public static ClientTaskRunner ForNode(PersonalizationStep personalization) => new(new LocalPrivacyStep(), personalization);

    /// <summary>
    /// The chain of clients in the server's own process: result validation (what the Fleet API checks
    /// on an upload), local differential privacy (noise seeded per round and client when <paramref name="seededNoise"/>), personalisation.
    /// </summary>
    public static ClientTaskRunner InProcess(bool seededNoise) =>
        new(new ResultValidationStep(), new LocalPrivacyStep(seededNoise), new PersonalizationStep());

    /// <summary>The steps, outermost first.</summary>
    public IReadOnlyList<IClientStep> Steps => _steps;

    /// <summary>Runs <paramref name="task"/> on <paramref name="app"/>; never throws for app errors.</summary>
    public async Task<ClientReply> RunAsync(IClientApp app, ClientTask task, CancellationToken ct)
    {
        ClientTaskHandler handler = (t, c) => InvokeAppGuardedAsync(app, t, c);
        for (int i = _steps.Length - 1; i >= 0; i--)
        {
            var step = _steps[i];
            var next = handler;
            handler = (t, c) => step.InvokeAsync(t, next, c);
        }
        try
        {
            return await handler(task, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ClientReply.Failed(FailureKind.Cancelled, "task cancelled or timed out");
        }
        catch (Exception e)
        {
            return ClientReply.Broken(e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e);
        }
    }

    // The app's own failures are the site's (client errors); only what escapes the steps is Cohort's.
    private static async Task<ClientReply> InvokeAppGuardedAsync(IClientApp app, ClientTask task, CancellationToken ct)
    {
        try
        {
            return await InvokeAppAsync(app, task, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var inner = e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e;
            return ClientReply.AppFailed(inner);
        }
    }

    private static async Task<ClientReply> InvokeAppAsync(IClientApp app, ClientTask task, CancellationToken ct) => task.Kind switch
    {
        TaskKind.Fit => ClientReply.Fitted(await app.FitAsync(task.Parameters ?? throw new InvalidDataException("fit task arrived without parameters"), task.Config, ct)),
        TaskKind.Evaluate => ClientReply.Evaluated(await app.EvaluateAsync(task.Parameters ?? throw new InvalidDataException("evaluate task arrived without parameters"), task.Config, ct)),
        TaskKind.GetParameters => ClientReply.Initial(await app.GetParametersAsync(task.Config, ct)),
        TaskKind.Statistics => app is IStatisticsClientApp s
            ? ClientReply.Summarized(await s.ComputeStatisticsAsync(task.Config, ct))
            : ClientReply.Failed(FailureKind.Refused, "this node's app computes no statistics, which the run's settings need"),
        _ => throw new InvalidOperationException($"unknown task kind {task.Kind}"),
    };
}
