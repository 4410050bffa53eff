using Cohort.Parameters;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Grpc.Core;

namespace Cohort.Node;

/// <summary>
/// Pushes results over <c>PushResults</c> calls kept open for the session: each push borrows an idle call (or opens
/// one), writes the result and reads its reply, then gives the call back, so a round costs no new call. A call that
/// failed in any way is dropped (the push's retry opens another). A server without <c>PushResults</c> is answered with
/// one <c>PushResult</c> call per result, as before, for the rest of the session.
/// </summary>
internal sealed class ResultCalls(Transport.V1.Fleet.FleetClient client) : IDisposable
{
    // A message written with this stays in the send buffer until the next flushed one.
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    private readonly Stack<AsyncDuplexStreamingCall<ResultMessage, PushResultReply>> _idle = new();
    private readonly CancellationTokenSource _session = new();
    private volatile bool _oneCallEach;
    private bool _disposed;

    /// <summary>Pushes one result and returns the server's reply; throws <see cref="RpcException"/> as a <c>PushResult</c> call would.</summary>
    public async Task<PushResultReply> PushAsync(ResultHeader header, ParameterSet? parameters, ParameterManifest? manifest, CancellationToken ct)
    {
        if (_oneCallEach) return await PushOnOwnCallAsync(header, parameters, manifest, ct);
        // A call that waited idle may have been ended meanwhile (by the server stopping, a proxy, the network): what it
        // fails with then says nothing about this result, which goes once more on a new call.
        if (TakeIdle() is { } reused)
        {
            try
            {
                return await PushOnAsync(reused, header, parameters, manifest, ct);
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Unimplemented && !ct.IsCancellationRequested)
            {
            }
        }
        try
        {
            return await PushOnAsync(client.PushResults(cancellationToken: _session.Token), header, parameters, manifest, ct);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unimplemented)
        {
            // An older server: one call per result from here on.
            _oneCallEach = true;
            return await PushOnOwnCallAsync(header, parameters, manifest, ct);
        }
    }

    // Writes the result and reads its reply; the call goes back to the idle ones after a reply, and is ended otherwise.
    private async Task<PushResultReply> PushOnAsync(AsyncDuplexStreamingCall<ResultMessage, PushResultReply> call, ResultHeader header, ParameterSet? parameters, ParameterManifest? manifest, CancellationToken ct)
    {
        bool replied = false;
        // The reply is awaited while the result is written (see WriteAsync).
        var answered = call.ResponseStream.MoveNext(ct);
        try
        {
            await WriteAsync(call.RequestStream, header, parameters, manifest, answered, ct);
            if (!await answered)
                throw new RpcException(new Status(StatusCode.Unavailable, "the server ended the results call before it answered"));
            var reply = call.ResponseStream.Current;
            if (reply.TaskId != header.TaskId)
                throw new RpcException(new Status(StatusCode.Internal, $"the server answered for task '{reply.TaskId}' where '{header.TaskId}' was pushed; call reset"));
            replied = true;
            Give(call);
            return reply;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or RpcException { StatusCode: StatusCode.Cancelled } && !ct.IsCancellationRequested)
        {
            // A write to a call the server had ended: what the server said, as a PushResult call would have thrown it. Such a
            // write fails without the server's status, and fails as Cancelled when HttpClient saw the server end the call while
            // it sent (an older server answering Unimplemented at once): taken as that, it would end the session.
            var status = await StatusOfAsync(call, answered);
            throw new RpcException(status is { StatusCode: not StatusCode.OK } s ? s : new Status(StatusCode.Unavailable, $"results call failed: {e.Message}"));
        }
        finally
        {
            if (!replied) call.Dispose();
        }
    }

    private AsyncDuplexStreamingCall<ResultMessage, PushResultReply>? TakeIdle()
    {
        lock (_idle) return _idle.TryPop(out var call) ? call : null;
    }

    private void Give(AsyncDuplexStreamingCall<ResultMessage, PushResultReply> call)
    {
        lock (_idle)
        {
            if (!_disposed)
            {
                _idle.Push(call);
                return;
            }
        }
        call.Dispose();
    }

    // Why the call failed, when the server said: a write to a call the server already ended fails without its status,
    // which the pending read of the reply then gives.
    private static async Task<Status?> StatusOfAsync(AsyncDuplexStreamingCall<ResultMessage, PushResultReply> call, Task<bool> answered)
    {
        try
        {
            await answered.WaitAsync(TimeSpan.FromSeconds(2));
            return call.GetStatus();
        }
        catch (RpcException ended)
        {
            return ended.Status;
        }
        catch (Exception other) when (other is TimeoutException or OperationCanceledException or InvalidOperationException or IOException)
        {
            return null;
        }
    }

    private async Task<PushResultReply> PushOnOwnCallAsync(ResultHeader header, ParameterSet? parameters, ParameterManifest? manifest, CancellationToken ct)
    {
        using var call = client.PushResult(cancellationToken: ct);
        await WriteAsync(call.RequestStream, header, parameters, manifest, answered: null, ct);
        await call.RequestStream.CompleteAsync();
        return await call.ResponseAsync;
    }

    // Writes a result: its header, then its manifest and chunks when it has parameters, stopping early once answered has
    // completed (the server replied from the header, and would only skip the rest).
    private static async Task WriteAsync(IClientStreamWriter<ResultMessage> stream, ResultHeader header, ParameterSet? parameters, ParameterManifest? manifest, Task? answered, CancellationToken ct)
    {
        // Header and manifest wait in the send buffer for the first chunk: a small result leaves in one flush.
        stream.WriteOptions = parameters is not null ? Buffered : WriteOptions.Default;
        await stream.WriteAsync(new ResultMessage { Header = header }, ct);
        if (parameters is null) return;
        await stream.WriteAsync(new ResultMessage { Manifest = manifest }, ct);
        // Every chunk is flushed: a large model is never held whole in the send buffer.
        stream.WriteOptions = WriteOptions.Default;
        foreach (var chunk in ParameterEncoder.Chunks(parameters))
        {
            if (answered?.IsCompleted == true) return;
            await stream.WriteAsync(new ResultMessage { Chunk = chunk }, ct);
        }
    }

    /// <summary>Ends the idle calls; calls in use end as their pushes finish.</summary>
    public void Dispose()
    {
        lock (_idle)
        {
            _disposed = true;
            while (_idle.TryPop(out var call)) call.Dispose();
        }
        _session.Cancel();
        _session.Dispose();
    }
}
