using Cohort.Server.Security;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Cohort.Server.Dashboard;

/// <summary>
/// Caps the body of every request that is not a gRPC call: Kestrel's own limit is off so that nodes can upload
/// models of several GiB, which left the dashboard's forms (the public login form among them) reading any amount
/// into memory, or into temporary files for multipart parts. A route may raise its cap with <see cref="Allow"/>.
/// </summary>
internal static class RequestBodyLimits
{
    /// <summary>Largest body of a dashboard request: a login or a button's form needs a few hundred bytes.</summary>
    public const int FormBytes = 64 << 10;

    /// <summary>
    /// Largest body of the new-run form: a plan of the largest size pasted and the same plan as a file
    /// (<see cref="PlanLimits.MaxPlanBytes"/> each), and the form's other fields.
    /// </summary>
    public const int PlanFormBytes = 2 * PlanLimits.MaxPlanBytes + FormBytes;

    /// <summary>Gives a route a larger cap than <see cref="FormBytes"/>.</summary>
    public static TBuilder Allow<TBuilder>(this TBuilder endpoint, int bytes) where TBuilder : IEndpointConventionBuilder =>
        endpoint.WithMetadata(new BodyLimit(bytes));

    /// <summary>The middleware.</summary>
    public static async Task Guard(HttpContext http, Func<Task> next)
    {
        var endpoint = http.GetEndpoint();
        // The endpoint routing chose, not a content type a caller sends, tells a gRPC call apart.
        if (endpoint?.Metadata.GetMetadata<GrpcMethodMetadata>() is not null)
        {
            await next();
            return;
        }
        int limit = endpoint?.Metadata.GetMetadata<BodyLimit>()?.Bytes ?? FormBytes;
        if (http.Request.ContentLength > limit)
        {
            await RefuseAsync(http, limit);
            return;
        }
        // Kestrel stops a body without a length (chunked) at the limit while it is read.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = limit;
        // Every part fits in memory below the limit, so a multipart form never goes to a temporary file.
        http.Features.Set<IFormFeature>(new FormFeature(http.Request, new FormOptions
        {
            MemoryBufferThreshold = limit,
            MultipartBodyLengthLimit = limit,
            ValueLengthLimit = limit,
        }));
        try
        {
            await next();
        }
        catch (Exception e) when (!http.Response.HasStarted
            && (e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } || (e is InvalidDataException && http.Request.HasFormContentType)))
        {
            // A multipart form past its limit fails as InvalidDataException while it is read.
            await RefuseAsync(http, limit);
        }
    }

    private static Task RefuseAsync(HttpContext http, int limit)
    {
        http.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        // Closing the connection spares reading (and discarding) the rest of a body nobody will use (HTTP/1.x only:
        // HTTP/2 forbids the header, and Kestrel resets the stream instead).
        if (HttpProtocol.IsHttp10(http.Request.Protocol) || HttpProtocol.IsHttp11(http.Request.Protocol)) http.Response.Headers.Connection = "close";
        http.Response.ContentType = "text/plain; charset=utf-8";
        return http.Response.WriteAsync($"request body too large: the limit here is {limit / 1024} KiB\n");
    }

    private sealed record BodyLimit(int Bytes);
}
