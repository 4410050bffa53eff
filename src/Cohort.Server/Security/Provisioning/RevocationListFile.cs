using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// The revocation list a server checks client certificates against, re-read whenever the file changes
/// (size or modification time, looked at on each check), so revoking needs no restart. A list that
/// cannot be read or verified refuses every certificate until it is fixed, and so does a list that was there and is
/// gone: failing open would readmit revoked sites. Only a list absent since the server started is no list.
/// </summary>
internal sealed class RevocationListFile(string? path, X509Certificate2? issuer, ILogger<RevocationListFile>? log = null)
{
    private readonly Lock _lock = new();
    private (DateTime Stamp, long Length) _loadedFrom = (DateTime.MinValue, -1);
    private RevocationList _list = RevocationList.Empty;
    private string? _error;
    private bool _seen;

    /// <summary>The file watched, or null when the server has no revocation list.</summary>
    public string? Path => path;

    /// <summary>
    /// Null when <paramref name="certificate"/> may be used, else the status to refuse it with: <c>PermissionDenied</c> for a
    /// revoked certificate (its holder cannot help it by retrying), <c>Unavailable</c> while the list itself is unusable (the
    /// server's problem: a node retries, and is let in again once the list is fixed).
    /// </summary>
    public Status? Refusal(X509Certificate2 certificate)
    {
        if (path is null || issuer is null) return null;
        var (list, error) = Current();
        if (error is not null) return new Status(StatusCode.Unavailable, error);
        return list.Contains(certificate)
            ? new Status(StatusCode.PermissionDenied, $"certificate {RevocationList.NormalizeSerial(certificate.SerialNumber)} for '{certificate.GetNameInfo(X509NameType.SimpleName, false)}' has been revoked")
            : null;
    }

    private (RevocationList List, string? Error) Current()
    {
        var info = new FileInfo(path!);
        var stamp = info.Exists ? (info.LastWriteTimeUtc, info.Length) : (DateTime.MinValue, -1L);
        lock (_lock)
        {
            if (stamp == _loadedFrom) return (_list, _error);
            _loadedFrom = stamp;
            if (!info.Exists)
            {
                if (!_seen) return (_list, _error);
                // Removed, or being replaced by a copy that has not landed yet: the revoked stay out meanwhile.
                _error = $"the server's revocation list is unusable, so no client certificate is accepted (it was at {path} and is gone)";
                log?.LogError("Revocation list {Path} is gone; refusing client certificates until it is back", path);
                return (_list, _error);
            }
            _seen = true;
            try
            {
                _list = RevocationList.Read(File.ReadAllBytes(path!), issuer!, path!);
                _error = null;
                log?.LogInformation("Revocation list {Path} loaded: {Count} revoked certificates", path, _list.Serials.Count);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or FormatException)
            {
                _error = $"the server's revocation list is unusable, so no client certificate is accepted ({e.Message})";
                log?.LogError("Revocation list {Path} unusable; refusing client certificates: {Reason}", path, e.Message);
            }
            return (_list, _error);
        }
    }
}
