using System.Globalization;

namespace Cohort.Server.Security;

/// <summary>
/// Operator tokens for people and tools (viewer or operator role), kept as SHA-256 hashes in
/// <c>DATA_DIR/viewer.tokens</c> (one <c>name hash created role</c> line each; a line without a role is a
/// viewer's, as written before roles), so a leaked file does not leak tokens.
/// </summary>
internal sealed class ViewerTokens
{
    private readonly string _file;
    private readonly Lock _lock = new();
    private Dictionary<string, (string Name, AccessRole Role)> _byHash = new(StringComparer.Ordinal);
    // When the map was read: the file's last write time (MinValue when there was no file), or null when it must be read again.
    private DateTime? _loadedStamp;

    /// <summary>Uses the token file of a data folder.</summary>
    public ViewerTokens(string dataDir) => _file = FileIn(dataDir);

    /// <summary>Path of the token file in a data folder.</summary>
    public static string FileIn(string dataDir) => Path.Combine(dataDir, "viewer.tokens");

    /// <summary>Issues a token for <paramref name="name"/> with <paramref name="role"/>, replacing an earlier one of the same name; returns the token.</summary>
    public string Issue(string name, AccessRole role = AccessRole.Viewer)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 128 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@')))
            throw new ArgumentException($"viewer name '{name}' must be 1-128 letters, digits, '-', '_', '.' or '@'");
        // The admin role stays with the admin token, admin users and admin certificates: a token file line must not grant it.
        if (role == AccessRole.Admin) throw new ArgumentException($"token for '{name}': role admin is not issued as a token; use viewer or operator (or a user or certificate with role admin)");
        // "admin" is how the admin token's runs are recorded, and what site policies' submitters see: no token may take it.
        if (string.Equals(name, "admin", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException("token name 'admin' is reserved for the admin token");
        string token = Tokens.New();
        lock (_lock)
        {
            var lines = File.Exists(_file) ? File.ReadAllLines(_file).Where(l => l.Split(' ')[0] != name).ToList() : [];
            lines.Add($"{name} {Tokens.Hash(token)} {DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture)} {Permissions.NameOf(role)}");
            DataFiles.WriteOwnerOnly(_file, string.Join('\n', lines) + "\n");
            _loadedStamp = null;
        }
        return token;
    }

    /// <summary>
    /// Deletes the token issued under <paramref name="name"/> and returns its hash (sessions started with it carry that
    /// origin), or null when there is none. The file is read again on the next request, so the token is refused from then on.
    /// </summary>
    public string? Revoke(string name)
    {
        lock (_lock)
        {
            if (!File.Exists(_file)) return null;
            var lines = File.ReadAllLines(_file);
            var gone = lines.FirstOrDefault(l => l.Split(' ')[0] == name);
            if (gone is null) return null;
            DataFiles.WriteOwnerOnly(_file, string.Concat(lines.Where(l => l.Split(' ')[0] != name).Select(l => l + "\n")));
            _loadedStamp = null;
            return gone.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var hash, ..] ? hash : "";
        }
    }

    /// <summary>Every token's name, role and issue time (null when its line has none), by name; never the hash.</summary>
    public IReadOnlyList<(string Name, AccessRole Role, DateTimeOffset? Created)> List()
    {
        lock (_lock)
        {
            if (!File.Exists(_file)) return [];
            var tokens = new List<(string, AccessRole, DateTimeOffset?)>();
            foreach (var line in File.ReadAllLines(_file))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // Lines Loaded() would not honour are no tokens to list either.
                if (parts.Length < 2 || string.Equals(parts[0], "admin", StringComparison.OrdinalIgnoreCase)) continue;
                DateTimeOffset? created = parts.Length >= 3 && DateTimeOffset.TryParse(parts[2], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;
                tokens.Add((parts[0], parts.Length >= 4 && parts[3] == "operator" ? AccessRole.Operator : AccessRole.Viewer, created));
            }
            return tokens.OrderBy(t => t.Item1, StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>The name and role a token belongs to, or null.</summary>
    public (string Name, AccessRole Role)? Find(string token) => FindByHash(Tokens.Hash(token));

    /// <summary>The name and role of the token with SHA-256 <paramref name="hash"/>, or null (a session started with a token keeps only its hash).</summary>
    public (string Name, AccessRole Role)? FindByHash(string hash)
    {
        lock (_lock) return Loaded().TryGetValue(hash, out var found) ? found : null;
    }

    /// <summary>Whether a token is issued under <paramref name="name"/> (names compare case-sensitively, as user names do).</summary>
    public bool Holds(string name)
    {
        lock (_lock) return Loaded().Values.Any(t => t.Name == name);
    }

    // The tokens by hash; re-read when the file changed, so tokens written or deleted by another process count at once. Under _lock.
    private Dictionary<string, (string Name, AccessRole Role)> Loaded()
    {
        var stamp = File.Exists(_file) ? File.GetLastWriteTimeUtc(_file) : DateTime.MinValue;
        if (stamp == _loadedStamp) return _byHash;
        var map = new Dictionary<string, (string, AccessRole)>(StringComparer.Ordinal);
        if (File.Exists(_file))
        {
            foreach (var line in File.ReadAllLines(_file))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length < 2) continue;
                // A hand-edited line may not take the admin token's name either (Issue refuses it): such a token is no token.
                if (string.Equals(parts[0], "admin", StringComparison.OrdinalIgnoreCase)) continue;
                // An unknown or admin role on a hand-edited line grants nothing more than viewing.
                var role = parts.Length >= 4 && parts[3] == "operator" ? AccessRole.Operator : AccessRole.Viewer;
                map[parts[1]] = (parts[0], role);
            }
        }
        _byHash = map;
        _loadedStamp = stamp;
        return map;
    }
}
