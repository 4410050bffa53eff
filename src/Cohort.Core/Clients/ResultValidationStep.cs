namespace Cohort.Clients;

/// <summary>
/// Checks what a client app returns as the Fleet API checks an upload: a fit result must have the
/// expected shapes and finite values, an evaluation a finite loss, and neither a negative example count.
/// An unusable result becomes a <see cref="FailureKind.Rejected"/> failure.
/// </summary>
public sealed class ResultValidationStep : IClientStep
{
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
        return problem is null ? reply : ClientReply.Failed(FailureKind.Rejected, $"rejected result: {problem}");
    }
}
