using System.Net;
using System.Net.Sockets;

namespace Cohort.Server.Hosting;

/// <summary>A port another process holds, found before the server starts, so the operator reads one line instead of Kestrel's failure.</summary>
internal sealed class PortInUseException(string message) : IOException(message);

/// <summary>Checks the server's ports before the web host binds them.</summary>
internal static class PortCheck
{
    /// <summary>
    /// Throws <see cref="PortInUseException"/> naming the address, what it is for and the option that moves it when another
    /// socket holds it. Port 0 (any free one) is not checked. Kestrel still binds afterwards, so a port taken in between
    /// fails as before, only less readably.
    /// </summary>
    public static void EnsureFree(string host, int port, string purpose, string option)
    {
        if (port <= 0) return;
        var address = IPAddress.Parse(host);
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.Bind(new IPEndPoint(address, port));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new PortInUseException(
                $"port {port} on {host} ({purpose}) is in use by another process (another cohort server?): stop it or choose another with {option}");
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied or SocketError.AddressNotAvailable)
        {
            throw new PortInUseException($"cannot listen on {host}:{port} ({purpose}): {e.Message}; choose another address or port ({option})");
        }
    }
}
