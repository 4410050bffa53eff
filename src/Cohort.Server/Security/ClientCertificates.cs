using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Security;

/// <summary>The certificate a caller's TLS connection presented, read once the connection may already be gone.</summary>
internal static class ClientCertificates
{
    /// <summary>
    /// The connection's client certificate, or null when it presented none. A call whose connection has closed (its TLS
    /// stream disposed, as when a caller drops many calls at once) ends as <c>Cancelled</c> instead of failing with an error
    /// and a stack trace in the server's log: no one is left to answer.
    /// </summary>
    public static X509Certificate2? Of(HttpContext http) =>
        Read(http, out var certificate) ? certificate : throw new RpcException(new Status(StatusCode.Cancelled, "the connection closed before its certificate was read"));

    /// <summary>
    /// Like <see cref="Of"/>, but null on a closed connection too: for words in the audit ledger about an action already
    /// taken, whose entry must not be lost because the caller has gone.
    /// </summary>
    public static X509Certificate2? OrNone(HttpContext http) => Read(http, out var certificate) ? certificate : null;

    // False when the connection's TLS stream is already disposed.
    private static bool Read(HttpContext http, out X509Certificate2? certificate)
    {
        try
        {
            certificate = http.Connection.ClientCertificate;
            return true;
        }
        catch (ObjectDisposedException)
        {
            certificate = null;
            return false;
        }
    }
}
