using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// The revocation list a server checks client certificates against, re-read whenever the file changes
/// (size or modification time, looked at on each check), so revoking needs no restart. A list that
/// cannot be read or verified refuses every certificate until it is fixed: failing open would readmit
/// revoked sites.
/// </summary>
internal sealed class RevocationListFile(string? path, X509Certificate2? issuer, ILogger<RevocationListFile>? log = null)
{
    private readonly Lock _lock = new();
    private (DateTime Stamp, long Length) _loadedFrom = (DateTime.MinValue, -1);
    private RevocationList _list = RevocationList.Empty;
    private string? _error;

    /// <summary>The file watched, or null when the server has no revocation list.</summary>
    public string? Path => path;

    /// <summary>Null when <paramref name="certificate"/> may be used, else why it is refused.</summary>
    public string? Refusal(X509Certificate2 certificate)
    {
        if (path is null || issuer is null) return null;
        var (list, error) = Current();
        if (error is not null) return error;
        return list.Contains(certificate)
            ? $"certificate {RevocationList.NormalizeSerial(certificate.SerialNumber)} for '{certificate.GetNameInfo(X509NameType.SimpleName, false)}' has been revoked"
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
                (_list, _error) = (RevocationList.Empty, null);
                return (_list, _error);
            }
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
