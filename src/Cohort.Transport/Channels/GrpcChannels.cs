using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Transport.Channels;

/// <summary>How a client reaches a Cohort server.</summary>
/// <param name="Server">https://host:port (TLS) or http://host:port (plaintext, needs <paramref name="Insecure"/>).</param>
/// <param name="Token">Bearer token sent with every call (node token or admin token).</param>
/// <param name="CaFile">PEM CA certificate to trust instead of the system store, or null.</param>
/// <param name="Insecure">Allow plaintext http:// (local development only).</param>
/// <param name="CertificateFile">PEM client certificate for mutual TLS, or null.</param>
/// <param name="KeyFile">PEM private key of <paramref name="CertificateFile"/>.</param>
/// <param name="AllowInsecureNetwork">Allow plaintext to a server that is not on loopback (tokens then cross the network in clear).</param>
public sealed record ConnectionOptions(
    string Server, string Token, string? CaFile = null, bool Insecure = false, string? CertificateFile = null, string? KeyFile = null, bool AllowInsecureNetwork = false);

/// <summary>Creates gRPC channels to a Cohort server with TLS trust, bearer token and large-stream settings.</summary>
public static class GrpcChannels
{
    /// <summary>Creates a channel; throws <see cref="ArgumentException"/> naming what is wrong with the options.</summary>
    public static GrpcChannel Create(ConnectionOptions options)
    {
        if (!Uri.TryCreate(options.Server, UriKind.Absolute, out var uri) || (uri.Scheme != "https" && uri.Scheme != "http"))
            throw new ArgumentException($"server address '{options.Server}' must look like https://host:port");
        if (uri.Scheme == "http" && !options.Insecure)
            throw new ArgumentException($"server address '{options.Server}' is plaintext http; use https, or pass --insecure for local development");
        if (uri.Scheme == "http" && !uri.IsLoopback && !options.AllowInsecureNetwork)
            throw new ArgumentException($"server address '{options.Server}' is plaintext http to a host that is not loopback; --insecure is for local development (add --allow-insecure-network to do it anyway)");

        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            InitialHttp2StreamWindowSize = 4 << 20,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(20),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        // Also with the system store: a refusal then carries its reason out (ConnectionFailure words it).
        handler.SslOptions.RemoteCertificateValidationCallback = CertificateTrust.ServerValidation(
            options.CaFile is null ? null : CertificateTrust.LoadCertificate(options.CaFile));
        if (options.CertificateFile is not null)
        {
            if (options.KeyFile is null) throw new ArgumentException("a client certificate needs its key file");
            if (!File.Exists(options.CertificateFile)) throw new ArgumentException($"certificate file '{options.CertificateFile}' not found");
            if (!File.Exists(options.KeyFile)) throw new ArgumentException($"key file '{options.KeyFile}' not found");
            handler.SslOptions.ClientCertificates = [CertificateTrust.LoadWithKey(options.CertificateFile, options.KeyFile)];
        }

        var credentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            // No token at all (an admin certificate authenticates instead) sends no header rather than an empty one.
            if (options.Token.Length > 0) metadata.Add("authorization", "Bearer " + options.Token);
            return Task.CompletedTask;
        });
        return GrpcChannel.ForAddress(uri, new GrpcChannelOptions
        {
            HttpHandler = handler,
            MaxReceiveMessageSize = 16 << 20,
            MaxSendMessageSize = 16 << 20,
            Credentials = uri.Scheme == "https"
                ? ChannelCredentials.Create(ChannelCredentials.SecureSsl, credentials)
                : ChannelCredentials.Create(ChannelCredentials.Insecure, credentials),
            UnsafeUseInsecureChannelCallCredentials = uri.Scheme == "http",
        });
    }
}
