namespace Cohort.Clients;

/// <summary>
/// Checks what a client app returns as the Fleet API checks an upload: a fit result must have the
/// expected shapes and finite values, an evaluation a finite loss, and neither a negative example count;
/// example counts, losses and metrics go through the same <see cref="Apps.ResultValidator"/> as uploads.
/// An unusable result becomes a <see cref="FailureKind.Rejected"/> failure.
/// </summary>
internal sealed class ResultValidationStep : IClientStep
{
    // Remembers each client's first example count per run, as the Fleet API does for nodes.
    private readonly Apps.ResultValidator _validator = new();

    /// <inheritdoc />
    public async Task<ClientReply> InvokeAsync(ClientTask task, ClientTaskHandler next, CancellationToken ct)
    {
        var reply = await next(task, ct);
        if (!reply.Ok) return reply;
        string? problem = task.Kind switch
        {
            TaskKind.Fit when reply.Parameters is null => "no parameters",
            TaskKind.Fit => task.Expected?.FindMismatch(reply.Parameters) ?? reply.Parameters.FindNonFinite(),
            TaskKind.Evaluate when !double.IsFinite(reply.Loss) => $"loss is {reply.Loss}",
            TaskKind.GetParameters when reply.Parameters is null => "no parameters",
            _ => null,
        };
        if (problem is null && reply.Examples < 0) problem = $"{reply.Examples} examples";
        if (problem is null && task.Kind != TaskKind.GetParameters)
        {
            string phase = task.Kind switch { TaskKind.Fit => "fit", TaskKind.Statistics => "statistics", _ => "evaluate" };
            problem = _validator.Check(task.RunId, task.Node, phase, reply.Examples, task.Kind == TaskKind.Evaluate ? reply.Loss : null,
                reply.Metrics, task.Limits ?? Apps.ResultLimits.Default);
        }
        return problem is null ? reply : ClientReply.Failed(FailureKind.Rejected, $"rejected result: {problem}");
    }
}
