using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Cohort.Audit;
using Cohort.Server.Audit;
using Cohort.Server.Hosting;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Security;

/// <summary>
/// Stands in front of the gRPC services: authenticates every Fleet and Control call from its headers
/// before a byte of its body is read (a Control caller's identity and role are kept for the service, which
/// checks the permission), refuses addresses that keep failing, and checks that a node's single request
/// message, and the one Control call that needs no token (Login), decodes before the service sees it, so
/// garbage is answered InvalidArgument with at most one log line per interval instead of a logged stack trace.
/// </summary>
internal static class CallGate
{
    private const string LoginMethod = "Login";

    /// <summary>Largest request message of a unary or server-streaming Fleet call (they carry names and ids only).</summary>
    public const int MaxFleetRequestBytes = 64 << 10;

    /// <summary>The middleware.</summary>
    public static async Task Guard(HttpContext http, Func<Task> next)
    {
        string path = http.Request.Path.Value ?? "";
        // The method routing chose, not the path's text: routing ignores case, so a path compared as text could reach a
        // method while missing every check below.
        var grpcMethod = http.GetEndpoint()?.Metadata.GetMetadata<Grpc.AspNetCore.Server.GrpcMethodMetadata>()?.Method;
        bool fleet = grpcMethod?.ServiceName == Transport.V1.Fleet.Descriptor.FullName;
        if (grpcMethod is null || (!fleet && grpcMethod.ServiceName != Transport.V1.Control.Descriptor.FullName))
        {
            await next();
            return;
        }
        // Size limits count the bytes that arrive, and 16 KB of gzip is 16 MB once read: Cohort's clients never compress.
        if (http.Request.Headers["grpc-encoding"] is { Count: > 0 } encoding && encoding.ToString() != "identity")
        {
            await RefuseAsync(http, StatusCode.InvalidArgument, "compressed request messages are not accepted");
            return;
        }
        var services = http.RequestServices;
        if (services.GetRequiredService<Hosting.ApiPort>().Value is var apiPort && http.Connection.LocalPort != apiPort)
        {
            await RefuseAsync(http, StatusCode.Unimplemented, $"the Fleet and Control APIs answer on port {apiPort}, not on the dashboard's");
            return;
        }
        var limiter = services.GetRequiredService<FailedAuthentications>();
        var throttle = services.GetRequiredService<LogThrottle>();
        var log = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(CallGate).FullName!);
        string caller = FailedAuthentications.KeyOf(http);
        // The limit applies to calls whose credentials fail (and to logins): a caller that keeps failing from an
        // address shared with nodes and operators (NAT, a proxy) must not lock their valid credentials out.
        async Task<bool> LimitedAsync()
        {
            if (!limiter.IsOver(caller)) return false;
            Note(log, throttle, "limited", $"refusing calls from {caller}: {limiter.PerMinute} failed authentications in a minute");
            await RefuseAsync(http, StatusCode.ResourceExhausted, $"too many failed authentications from {caller}; wait a minute");
            return true;
        }
        // True when the call's one message was refused (answered) or its caller went away: too many of the caller's still
        // arriving, too slow, too large, or undecodable.
        async Task<bool> RefusedMessageAsync(string who, bool authenticated, MessageDescriptor type)
        {
            string? problem = await ReadSingleMessageAsync(http, who, authenticated, type);
            if (http.RequestAborted.IsCancellationRequested) return true;
            if (problem is null) return false;
            bool crowded = problem == TooManyArriving;
            Note(log, throttle, crowded ? "arriving" : "undecodable", $"refused {path} from {caller} ({who}): {problem}");
            await RefuseAsync(http, crowded ? StatusCode.ResourceExhausted : StatusCode.InvalidArgument, problem);
            return true;
        }
        string? token = Tokens.FromHeader(http.Request.Headers.Authorization);
        if (!fleet)
        {
            if (grpcMethod.Name == LoginMethod)
            {
                if (await LimitedAsync()) return;
                // Login carries a password instead of a token; the service counts it with the same limiter (PasswordChecks).
                // Its caller is not authenticated yet, so garbage is refused here as on the Fleet API.
                if (await RefusedMessageAsync("address " + caller, authenticated: false, Transport.V1.LoginRequest.Descriptor)) return;
                await next();
                return;
            }
            AccessIdentity? who;
            try
            {
                who = services.GetRequiredService<OperatorAuthenticator>().Admit(http, token);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled)
            {
                // The connection closed before its certificate could be read: no one to answer, nothing to count or audit.
                return;
            }
            catch (RpcException e)
            {
                if (await LimitedAsync()) return;
                limiter.Count(caller);
                services.GetRequiredService<AuditLedger>().Append(new AuditEvent(AuditKinds.CertificateRefused, AuditActors.Address(http), $"call to {path} refused: {e.Status.Detail}"));
                await RefuseAsync(http, StatusCode.PermissionDenied, e.Status.Detail);
                return;
            }
            if (who is null)
            {
                if (await LimitedAsync()) return;
                limiter.Count(caller);
                Note(log, throttle, "unauthenticated", $"refused an unauthenticated call to {path} from {caller}");
                services.GetRequiredService<AuditLedger>().Append(new AuditEvent(AuditKinds.ControlRefused, AuditActors.Address(http),
                    $"call to {path} refused: {(string.IsNullOrEmpty(token) ? "no operator token" : "unknown operator token or expired session")}"));
                await RefuseAsync(http, StatusCode.Unauthenticated, string.IsNullOrEmpty(token)
                    ? "missing admin or operator token (authorization: Bearer <token>)"
                    : "unknown admin or operator token, or expired session");
                return;
            }
            await next();
            return;
        }
        if (await services.GetRequiredService<NodeAuthenticator>().FindAsync(token, http.RequestAborted) is not { } node)
        {
            if (await LimitedAsync()) return;
            limiter.Count(caller);
            Note(log, throttle, "unauthenticated", $"refused an unauthenticated call to {path} from {caller}");
            // Bounded by the limiter above: an address gets a few dozen entries a minute at most.
            services.GetRequiredService<AuditLedger>().Append(new AuditEvent(AuditKinds.NodeRefused, AuditActors.Address(http),
                $"call to {path} refused: {(string.IsNullOrEmpty(token) ? "no node token" : "unknown node token")}"));
            await RefuseAsync(http, StatusCode.Unauthenticated, services.GetRequiredService<NodeAuthenticator>().Refusal(token));
            return;
        }
        if (Transport.V1.Fleet.Descriptor.FindMethodByName(grpcMethod.Name) is { IsClientStreaming: false } method)
        {
            if (await RefusedMessageAsync("node " + node, authenticated: true, method.InputType)) return;
        }
        await next();
    }

    private static readonly string TooManyArriving =
        $"too many requests of this caller still arriving (at most {ArrivingMessages.PerCaller} at once, each within {ArrivingMessages.Deadline.TotalSeconds:0} s)";

    /// <summary>
    /// Reads the one request message of <paramref name="caller"/> within <see cref="ArrivingMessages.Deadline"/> and counted
    /// among those still arriving, then checks it (<see cref="CheckSingleMessageAsync"/>); returns what is wrong, or null.
    /// A caller already at its share of messages arriving gets <see cref="TooManyArriving"/>, before anything is read.
    /// </summary>
    private static async Task<string?> ReadSingleMessageAsync(HttpContext http, string caller, bool authenticated, MessageDescriptor type)
    {
        using var arriving = http.RequestServices.GetRequiredService<ArrivingMessages>().TryBegin(caller, authenticated);
        if (arriving is null) return TooManyArriving;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        deadline.CancelAfter(ArrivingMessages.Deadline);
        try
        {
            return await CheckSingleMessageAsync(http, type, deadline.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            // The caller went away (nothing to answer; the caller's check sees RequestAborted), or its message is too slow.
            return $"request message did not arrive in full within {ArrivingMessages.Deadline.TotalSeconds:0} s";
        }
    }

    /// <summary>Reads the one request message, checks that it decodes, and puts the bytes back for the service; returns what is wrong, or null.</summary>
    private static async Task<string?> CheckSingleMessageAsync(HttpContext http, MessageDescriptor type, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, ct)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > MaxFleetRequestBytes + 5) return $"request message larger than {MaxFleetRequestBytes} bytes";
        }
        var bytes = buffer.ToArray();
        http.Request.Body = new MemoryStream(bytes, writable: false);
        if (bytes.Length < 5) return "request holds no complete gRPC message";
        // The limit above counts the bytes that arrive; a compressed message could stand for a thousand times more.
        if (bytes[0] != 0) return "compressed request messages are not accepted";
        long length = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1, 4));
        if (length != bytes.Length - 5) return $"gRPC frame announces {length} bytes but {bytes.Length - 5} arrived";
        try
        {
            type.Parser.ParseFrom(bytes, 5, (int)length);
            return null;
        }
        catch (InvalidProtocolBufferException e)
        {
            return $"undecodable {type.Name}: {e.Message}";
        }
    }

    private static void Note(ILogger log, LogThrottle throttle, string kind, string line) => throttle.Warn(log, kind, line);

    /// <summary>
    /// Answers the call with a gRPC status and no message (a trailers-only response), and notes the refusal for the memory
    /// pass that follows a burst of them.
    /// </summary>
    private static async Task RefuseAsync(HttpContext http, StatusCode code, string message)
    {
        http.RequestServices.GetService<MemoryHygiene>()?.CallRefused();
        http.Response.StatusCode = StatusCodes.Status200OK;
        http.Response.ContentType = "application/grpc";
        http.Response.Headers["grpc-status"] = ((int)code).ToString(CultureInfo.InvariantCulture);
        http.Response.Headers["grpc-message"] = PercentEncode(message);
        await http.Response.CompleteAsync();
    }

    private static string PercentEncode(string message)
    {
        var sb = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%') sb.Append((char)b);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
