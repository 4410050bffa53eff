using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;

namespace Cohort.Cli.Commands;

/// <summary>
/// Hand-made gRPC calls of an attacker, sent over HTTP/2 and TLS without a gRPC client, so that a message can announce more
/// bytes than it sends and then hold its call open: what the server must bound. One caller per loopback source address
/// (127.0.0.N), since the server counts calls without a token by address.
/// </summary>
internal sealed class AttackCalls : IDisposable
{
    private readonly HttpClient _http;
    private readonly Uri _server;

    /// <summary>The status <see cref="SendAsync"/> gives a call the server's HTTP/2 layer reset with ENHANCE_YOUR_CALM.</summary>
    public const string Calm = "reset";

    /// <param name="server">The server's address (https://localhost:port).</param>
    /// <param name="sourceAddress">The loopback address the calls come from.</param>
    public AttackCalls(string server, IPAddress sourceAddress)
    {
        _server = new Uri(server);
        var handler = new SocketsHttpHandler
        {
            // An attacker checks no certificate; what is measured is what the server holds.
            SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true },
            EnableMultipleHttp2Connections = true,
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(sourceAddress, 0));
                    await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>
    /// Calls <paramref name="method"/> (e.g. <c>/cohort.v1.Control/Login</c>) with one message frame that announces
    /// <paramref name="announced"/> bytes and carries <paramref name="body"/>; when the body is shorter, the request stays open
    /// until the server answers. Returns the call's gRPC status (<see cref="Calm"/> when HTTP/2 refused it, "" when it failed otherwise below gRPC), its message
    /// (or the failure's) and how long it took.
    /// </summary>
    public async Task<(string Status, string Message, TimeSpan Took)> SendAsync(string method, string? token, int announced, byte[] body, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var content = new FrameContent(announced, body);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server, method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TE.Add(new TransferCodingWithQualityHeaderValue("trailers"));
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            await response.Content.ReadAsByteArrayAsync(ct);
            return (Header(response, "grpc-status"), Uri.UnescapeDataString(Header(response, "grpc-message")), clock.Elapsed);
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            // Kestrel resets a stream with ENHANCE_YOUR_CALM when a connection opens streams faster than its requests end.
            bool calm = false;
            for (Exception? inner = e; inner is not null && !calm; inner = inner.InnerException)
                calm = inner is HttpProtocolException { ErrorCode: 0xb };
            return (calm ? Calm : "", e.Message, clock.Elapsed);
        }
        finally
        {
            content.Release();
        }
    }

    /// <summary>A message of <paramref name="fields"/> followed by an unknown length-delimited field (number 1000) of <paramref name="padding"/> bytes.</summary>
    public static byte[] Padded(Google.Protobuf.IMessage fields, int padding)
    {
        using var buffer = new MemoryStream();
        var output = new Google.Protobuf.CodedOutputStream(buffer);
        fields.WriteTo(output);
        output.WriteTag(1000, Google.Protobuf.WireFormat.WireType.LengthDelimited);
        output.WriteBytes(Google.Protobuf.ByteString.CopyFrom(new byte[padding]));
        output.Flush();
        return buffer.ToArray();
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.First()
        : response.TrailingHeaders.TryGetValues(name, out var trailing) ? trailing.First() : "";

    public void Dispose() => _http.Dispose();

    // One uncompressed gRPC frame: a zero flag, the announced length, then the bytes there are; the body ends only once released.
    private sealed class FrameContent(int announced, byte[] body) : HttpContent
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _released.TrySetResult();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            var header = new byte[5];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), announced);
            await stream.WriteAsync(header);
            await stream.WriteAsync(body);
            await stream.FlushAsync();
            if (body.Length < announced) await _released.Task;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
