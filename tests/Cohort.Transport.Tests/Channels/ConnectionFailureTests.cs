using System.Net;
using System.Net.Sockets;
using Cohort.Transport.Channels;

namespace Cohort.Transport.Tests.Channels;

/// <summary>A failure to reach the server says which kind it is: a name that does not resolve, or a port nobody listens on.</summary>
public sealed class ConnectionFailureTests
{
    [Fact]
    public async Task A_closed_port_says_nothing_listens_there()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var client = new HttpClient();

        var e = await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync($"http://127.0.0.1:{port}/"));
        var failure = ConnectionFailure.Of(e, $"https://127.0.0.1:{port}", null);

        Assert.NotNull(failure);
        Assert.False(failure.Configuration);
        Assert.Contains($"nothing listens on port {port} of 127.0.0.1", failure.Reason);
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_says_so()
    {
        using var client = new HttpClient();

        var e = await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync("http://cohort-server.invalid:7300/"));
        var failure = ConnectionFailure.Of(e, "https://cohort-server.invalid:7300", null);

        Assert.NotNull(failure);
        Assert.Contains("the name cohort-server.invalid does not resolve here", failure.Reason);
    }
}
