using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Cohort.Server.Security;

/// <summary>
/// Logged-in dashboard sessions: an opaque random id (the cookie's value) mapped to who logged in.
/// Kept in memory on purpose: a server restart logs everyone out, and no session secret is ever written.
/// </summary>
internal sealed class DashboardSessions
{
    /// <summary>Name of the session cookie.</summary>
    public const string CookieName = "cohort_session";

    /// <summary>How long a session lasts after login.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    private readonly ConcurrentDictionary<string, (AccessIdentity Who, DateTimeOffset Expires)> _sessions = new(StringComparer.Ordinal);
    private readonly byte[] _formKey = RandomNumberGenerator.GetBytes(32);

    /// <summary>The anti-forgery token of a session's forms: derived from the session id with a key that never leaves the process.</summary>
    public string AntiForgeryToken(string sessionId) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(_formKey, Encoding.UTF8.GetBytes("form:" + sessionId)));

    /// <summary>Starts a session and returns its id.</summary>
    public string Start(AccessIdentity who)
    {
        foreach (var kv in _sessions)
        {
            if (kv.Value.Expires < DateTimeOffset.UtcNow) _sessions.TryRemove(kv.Key, out _);
        }
        string id = Tokens.New();
        _sessions[id] = (who, DateTimeOffset.UtcNow + Lifetime);
        return id;
    }

    /// <summary>Who a live session belongs to, or null.</summary>
    public AccessIdentity? Find(string id) =>
        _sessions.TryGetValue(id, out var s) && s.Expires > DateTimeOffset.UtcNow ? s.Who : null;

    /// <summary>Ends a session.</summary>
    public void End(string id) => _sessions.TryRemove(id, out _);
}
