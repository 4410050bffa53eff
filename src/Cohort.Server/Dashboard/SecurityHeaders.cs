using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Dashboard;

/// <summary>Response headers that keep the dashboard out of frames, off other origins' scripts and its URLs out of other sites' referrers.</summary>
internal static class SecurityHeaders
{
    /// <summary>The dashboard's content policy: only its own scripts, styles and images (charts are inline SVG), no framing.</summary>
    public const string ContentPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>The middleware.</summary>
    public static Task Add(HttpContext http, Func<Task> next)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is null)
        {
            var headers = http.Response.Headers;
            headers.ContentSecurityPolicy = ContentPolicy;
            headers.XFrameOptions = "DENY";
            headers.XContentTypeOptions = "nosniff";
            // "no-referrer" would make browsers send "Origin: null" on form posts, which the same-origin check refuses.
            headers["Referrer-Policy"] = "same-origin";
            if (http.Request.IsHttps) headers.StrictTransportSecurity = "max-age=31536000";
        }
        return next();
    }
}
