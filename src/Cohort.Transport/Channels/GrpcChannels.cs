using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;

namespace Cohort.Transport.Channels;

/// <summary>How a client reaches a Cohort server.</summary>
/// <param name="Server">https://host:port (TLS) or http://host:port (plaintext, needs <paramref name="Insecure"/>).</param>
/// <param name="Token">Bearer token sent with every call (node token or admin token).</param>
/// <param name="CaFile">PEM CA certificate to trust instead of the system store, or null.</param>
/// <param name="Insecure">Allow plaintext http:// (local development only).</param>
public sealed record ConnectionOptions(string Server, string Token, string? CaFile = null, bool Insecure = false);

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

        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            InitialHttp2StreamWindowSize = 4 << 20,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(20),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(20),
            ConnectTimeout = TimeSpan.FromSeconds(10),
        };
        if (options.CaFile is not null)
        {
            if (!File.Exists(options.CaFile)) throw new ArgumentException($"CA file '{options.CaFile}' not found");
            var ca = X509Certificate2.CreateFromPem(File.ReadAllText(options.CaFile));
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedBy(ca, certificate, errors);
        }

        var credentials = CallCredentials.FromInterceptor((_, metadata) =>
        {
            metadata.Add("authorization", "Bearer " + options.Token);
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

    private static bool TrustedBy(X509Certificate2 ca, X509Certificate? presented, SslPolicyErrors errors)
    {
        if (presented is null) return false;
        // The CA is not in the system store, so chain errors are expected here; name mismatches are not.
        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var certificate = new X509Certificate2(presented);
        if (!chain.Build(certificate)) return false;
        var root = chain.ChainElements[^1].Certificate;
        return root.RawData.AsSpan().SequenceEqual(ca.RawData);
    }
}
