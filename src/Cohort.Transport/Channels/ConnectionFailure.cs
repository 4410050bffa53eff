using System.Net.Sockets;
using System.Security.Authentication;
using Grpc.Core;

namespace Cohort.Transport.Channels;

/// <summary>
/// Why a client could not talk to a Cohort server, in one line an operator can act on, found in what the gRPC,
/// HTTP and TLS layers wrapped. Shared by nodes, operator commands and <c>cohort health</c> so they word it alike.
/// </summary>
/// <param name="Reason">The line, naming the server and what to change.</param>
/// <param name="Configuration">True when retrying cannot help (the client's or the server's settings are wrong); false for an outage.</param>
internal sealed record ConnectionFailure(string Reason, bool Configuration)
{
    /// <summary>The failure <paramref name="e"/> stands for, or null when it is not one of reaching the server (a refusal by the server, a bug).</summary>
    /// <param name="e">What the call threw.</param>
    /// <param name="server">The address the client used (https://host:port or a URL).</param>
    /// <param name="caFile">The CA file the client trusts, or null for the system store.</param>
    public static ConnectionFailure? Of(Exception e, string server, string? caFile)
    {
        string trust = caFile is null ? "this machine's trusted roots" : $"CA {caFile}";
        for (Exception? x = e; x is not null; x = x is RpcException r && r.Status.DebugException is { } debug ? debug : x.InnerException)
        {
            switch (x)
            {
                case ServerCertificateRefusedException refused:
                    return new(refused.Problem switch
                    {
                        ServerCertificateProblem.Untrusted => $"the server certificate of {server} is not trusted by {trust}; give --ca the federation's CA certificate",
                        ServerCertificateProblem.NameMismatch => $"the server certificate of {server} does not name the host connected to: {refused.Message}; connect by a name it holds, or add {refused.Host} to it (--tls-name {refused.Host} on a server that made its own certificate, --host {refused.Host} on cohort certs server)",
                        ServerCertificateProblem.Expired => $"{refused.Message} ({server}); the server needs a new one (cohort certs server)",
                        _ => $"{refused.Message} ({server})",
                    }, true);
                case AuthenticationException tls when tls.InnerException is null:
                    // The handshake failed before any certificate was checked, on bytes that were not TLS records.
                    return new($"the server at {server} does not speak TLS; use http:// for an --insecure server", true);
                case AuthenticationException tls:
                    return new($"the TLS handshake with {server} failed: {tls.InnerException!.Message}", true);
                case SocketException socket:
                    return new($"cannot reach server {server}: {socket.Message}{Hint(socket.SocketErrorCode, server)}", false);
            }
        }
        return null;
    }

    // What each common socket failure means for the operator: a name that does not resolve, a port nobody listens on, silence.
    private static string Hint(SocketError code, string server)
    {
        var (host, port) = Uri.TryCreate(server, UriKind.Absolute, out var uri) ? (uri.Host, uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)) : (server, "");
        return code switch
        {
            SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $" (the name {host} does not resolve here: check the server's host name, or this machine's DNS)",
            SocketError.ConnectionRefused => $" (nothing listens on port {port} of {host}: is the server running, and on this port?)",
            SocketError.TimedOut or SocketError.HostUnreachable or SocketError.NetworkUnreachable => $" (no answer from {host}: a wrong address, or a firewall between here and it)",
            _ => "",
        };
    }
}
