namespace Cohort.Clients;

/// <summary>The rest of the chain below a step: the next step, or the client app itself.</summary>
internal delegate Task<ClientReply> ClientTaskHandler(ClientTask task, CancellationToken ct);

/// <summary>
/// One cross-cutting step around a client app (local differential privacy, personalisation, result
/// validation, …): it may change the task on the way in, the reply on the way out, or answer itself.
/// Steps compose into a <see cref="ClientTaskRunner"/>; a step keeps any state per run and node itself.
/// </summary>
internal interface IClientStep
{
    /// <summary>Runs the task through this step; <paramref name="next"/> runs the rest of the chain.</summary>
    Task<ClientReply> InvokeAsync(ClientTask task, ClientTaskHandler next, CancellationToken ct);
}
