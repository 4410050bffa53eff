using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cohort.Server.Security;

/// <summary>
/// Logged-in operator sessions (dashboard cookies and Control API logins): an opaque random id handed to the
/// client, mapped to who logged in. Kept in <c>DATA_DIR/sessions.json</c> (owner-only) so a restart logs
/// nobody out; the file holds only SHA-256 hashes of the ids, so reading it gives no session away. One credential
/// holds at most <see cref="MaxPerIdentity"/> live sessions, so the file, and the work of each login, stay small.
/// </summary>
internal sealed partial class DashboardSessions
{
    /// <summary>Name of the session cookie.</summary>
    public const string CookieName = "cohort_session";

    /// <summary>How long a session lasts after login.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    /// <summary>Live sessions one credential may hold (browsers, CLI logins); a login past it ends that credential's oldest session.</summary>
    public const int MaxPerIdentity = 256;

    private readonly string _file;
    private readonly Lock _lock = new();
    // Writes of the file are ordered by their own lock, so a lookup waits for no disk write, only for the in-memory change.
    private readonly Lock _writeLock = new();
    private readonly Dictionary<string, StoredSession> _byHash = new(StringComparer.Ordinal);
    private readonly byte[] _formKey;
    private long _version;
    private long _written;

    /// <summary>Uses (and loads) the sessions file of a data folder.</summary>
    public DashboardSessions(string dataDir)
    {
        _file = FileIn(dataDir);
        StoredSessions? stored = null;
        if (File.Exists(_file))
        {
            try
            {
                stored = JsonSerializer.Deserialize(File.ReadAllText(_file), SessionsJson.Default.StoredSessions);
            }
            catch (JsonException)
            {
                // A damaged sessions file only logs everyone out; it must not stop the server.
                stored = null;
            }
        }
        _formKey = stored?.FormKey is { Length: 64 } key ? Convert.FromHexString(key) : RandomNumberGenerator.GetBytes(32);
        foreach (var s in stored?.Sessions ?? []) _byHash[s.Hash] = s;
        // A file written before the cap, or by hand, is brought under it.
        foreach (string origin in _byHash.Values.Select(s => s.Origin).Distinct().ToList()) Trim(origin, MaxPerIdentity);
        Save();
    }

    /// <summary>Path of the sessions file in a data folder.</summary>
    public static string FileIn(string dataDir) => Path.Combine(dataDir, "sessions.json");

    /// <summary>The anti-forgery token of a session's forms: derived from the session id with a key that stays in the data folder.</summary>
    public string AntiForgeryToken(string sessionId) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(_formKey, Encoding.UTF8.GetBytes("form:" + sessionId)));

    /// <summary>Starts a session and returns its id (given to the client once, stored only as its hash).</summary>
    public string Start(AccessIdentity who)
    {
        string id = Tokens.New();
        lock (_lock)
        {
            Trim(who.Origin, MaxPerIdentity - 1);
            _byHash[Tokens.Hash(id)] = new StoredSession
            {
                Hash = Tokens.Hash(id),
                Name = who.Name,
                Role = Permissions.NameOf(who.Role),
                Origin = who.Origin,
                Expires = DateTimeOffset.UtcNow + Lifetime,
            };
        }
        Save();
        return id;
    }

    /// <summary>Who a live session was started for (with the credential it came from), or null.</summary>
    public AccessIdentity? Find(string id)
    {
        if (string.IsNullOrEmpty(id)) return null;
        lock (_lock)
        {
            if (!_byHash.TryGetValue(Tokens.Hash(id), out var s) || s.Expires <= DateTimeOffset.UtcNow) return null;
            AccessRole role;
            try
            {
                role = Permissions.ParseRole(s.Role);
            }
            catch (ArgumentException)
            {
                return null;
            }
            return new AccessIdentity(s.Name, role) { Origin = s.Origin };
        }
    }

    /// <summary>Ends a session.</summary>
    public void End(string id)
    {
        bool removed;
        lock (_lock) removed = _byHash.Remove(Tokens.Hash(id));
        if (removed) Save();
    }

    /// <summary>Ends every session started from <paramref name="origin"/> (a removed user's, a replaced token's); returns how many.</summary>
    public int EndAll(string origin)
    {
        int count;
        lock (_lock)
        {
            var ended = _byHash.Where(kv => kv.Value.Origin == origin).Select(kv => kv.Key).ToList();
            foreach (var hash in ended) _byHash.Remove(hash);
            count = ended.Count;
        }
        if (count > 0) Save();
        return count;
    }

    /// <summary>Sessions that have not expired.</summary>
    public int Count
    {
        get
        {
            lock (_lock) return _byHash.Values.Count(s => s.Expires > DateTimeOffset.UtcNow);
        }
    }

    /// <summary>Ends the oldest sessions of <paramref name="origin"/> until it holds at most <paramref name="keep"/>; called under the lock.</summary>
    private void Trim(string origin, int keep)
    {
        var own = _byHash.Values.Where(s => s.Origin == origin).ToList();
        if (own.Count <= keep) return;
        // Every session lasts as long, so the earliest expiry is the oldest login.
        foreach (var oldest in own.OrderBy(s => s.Expires).Take(own.Count - keep)) _byHash.Remove(oldest.Hash);
    }

    /// <summary>Writes the sessions as they are now; outside the lock, and never over a newer state written first.</summary>
    private void Save()
    {
        string json;
        long version;
        lock (_lock)
        {
            var now = DateTimeOffset.UtcNow;
            foreach (var expired in _byHash.Where(kv => kv.Value.Expires <= now).Select(kv => kv.Key).ToList()) _byHash.Remove(expired);
            var stored = new StoredSessions { FormKey = Convert.ToHexStringLower(_formKey), Sessions = _byHash.Values.OrderBy(s => s.Expires).ToList() };
            json = JsonSerializer.Serialize(stored, SessionsJson.Default.StoredSessions) + "\n";
            version = ++_version;
        }
        lock (_writeLock)
        {
            if (version <= _written) return;
            DataFiles.WriteOwnerOnly(_file, json);
            _written = version;
        }
    }

    // Source-generated (no reflection): the same JSON as the reflection-based serializer, and a NativeAOT build can read it.
    [JsonSourceGenerationOptions(WriteIndented = true)]
    [JsonSerializable(typeof(StoredSessions))]
    private sealed partial class SessionsJson : JsonSerializerContext;

    private sealed class StoredSessions
    {
        public string FormKey { get; init; } = "";

        public List<StoredSession> Sessions { get; init; } = [];
    }

    private sealed class StoredSession
    {
        public string Hash { get; init; } = "";

        public string Name { get; init; } = "";

        public string Role { get; init; } = "";

        public string Origin { get; init; } = "";

        public DateTimeOffset Expires { get; init; }
    }
}
