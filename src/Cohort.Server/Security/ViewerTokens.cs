using System.Globalization;

namespace Cohort.Server.Security;

/// <summary>
/// Read-only operator tokens, kept as SHA-256 hashes in <c>DATA_DIR/viewer.tokens</c> (one
/// <c>name hash created</c> line each), so a leaked file does not leak tokens.
/// </summary>
internal sealed class ViewerTokens
{
    private readonly string _file;
    private readonly Lock _lock = new();
    private Dictionary<string, string> _nameByHash = new(StringComparer.Ordinal);
    private DateTime _loadedStamp = DateTime.MinValue;

    /// <summary>Uses the token file of a data folder.</summary>
    public ViewerTokens(string dataDir) => _file = FileIn(dataDir);

    /// <summary>Path of the token file in a data folder.</summary>
    public static string FileIn(string dataDir) => Path.Combine(dataDir, "viewer.tokens");

    /// <summary>Issues a token for <paramref name="name"/>, replacing an earlier one of the same name; returns the token.</summary>
    public string Issue(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 128 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@')))
            throw new ArgumentException($"viewer name '{name}' must be 1-128 letters, digits, '-', '_', '.' or '@'");
        string token = Tokens.New();
        lock (_lock)
        {
            var lines = File.Exists(_file) ? File.ReadAllLines(_file).Where(l => l.Split(' ')[0] != name).ToList() : [];
            lines.Add($"{name} {Tokens.Hash(token)} {DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)}");
            CertificateAuthority.WriteSecret(_file, string.Join('\n', lines) + "\n");
            _loadedStamp = DateTime.MinValue;
        }
        return token;
    }

    /// <summary>The viewer a token belongs to, or null.</summary>
    public string? Find(string token)
    {
        string hash = Tokens.Hash(token);
        lock (_lock)
        {
            // Re-read when the file changed, so tokens written by another process count at once.
            var stamp = File.Exists(_file) ? File.GetLastWriteTimeUtc(_file) : DateTime.MinValue;
            if (stamp != _loadedStamp)
            {
                var map = new Dictionary<string, string>(StringComparer.Ordinal);
                if (File.Exists(_file))
                {
                    foreach (var line in File.ReadAllLines(_file))
                    {
                        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                        if (parts.Length >= 2) map[parts[1]] = parts[0];
                    }
                }
                _nameByHash = map;
                _loadedStamp = stamp;
            }
            return _nameByHash.GetValueOrDefault(hash);
        }
    }
}
