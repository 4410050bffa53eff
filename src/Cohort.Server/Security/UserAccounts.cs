using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cohort.Server.Security;

/// <summary>
/// Named users with passwords and a role, kept in <c>DATA_DIR/users.json</c> (owner-only). Only PBKDF2 hashes
/// are stored. The file lives beside the other credential files (admin token, viewer tokens) rather than in
/// the state store, so SQLite and PostgreSQL deployments keep their users the same way.
/// </summary>
internal sealed partial class UserAccounts
{
    private readonly string _file;
    private readonly int _iterations;
    private readonly Lock _lock = new();
    private Dictionary<string, UserAccount> _users;

    /// <summary>Uses the users file of a data folder; <paramref name="iterations"/> is the PBKDF2 work factor for new hashes.</summary>
    public UserAccounts(string dataDir, int iterations = PasswordHash.DefaultIterations)
    {
        if (iterations < PasswordHash.DefaultIterations)
            throw new ArgumentException($"password hashing needs at least {PasswordHash.DefaultIterations} PBKDF2 iterations, not {iterations}");
        _file = FileIn(dataDir);
        _iterations = iterations;
        _users = Load(_file);
    }

    /// <summary>Path of the users file in a data folder.</summary>
    public static string FileIn(string dataDir) => Path.Combine(dataDir, "users.json");

    /// <summary>Every user, by name.</summary>
    public IReadOnlyList<UserAccount> All
    {
        get
        {
            lock (_lock) return _users.Values.OrderBy(u => u.Name, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The user called <paramref name="name"/>, or null.</summary>
    public UserAccount? Find(string name)
    {
        lock (_lock) return _users.GetValueOrDefault(name);
    }

    /// <summary>Adds a user; throws <see cref="ArgumentException"/> for a bad name or password and <see cref="InvalidOperationException"/> when the name is taken.</summary>
    public UserAccount Add(string name, AccessRole role, string password)
    {
        ValidateName(name);
        // "admin" is how runs submitted with the admin token are recorded (and what site policies see): no user may take it.
        if (string.Equals(name, "admin", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException("user name 'admin' is reserved for the admin token");
        PasswordHash.DemandAcceptable(password, name);
        var hash = PasswordHash.Create(password, _iterations);
        lock (_lock)
        {
            if (_users.ContainsKey(name)) throw new InvalidOperationException($"user '{name}' exists already; remove it first or change its role with set-role");
            var user = new UserAccount(name, role, hash, DateTimeOffset.UtcNow);
            Save(new Dictionary<string, UserAccount>(_users, StringComparer.Ordinal) { [name] = user });
            return user;
        }
    }

    /// <summary>Removes a user; false when there was none of that name.</summary>
    public bool Remove(string name)
    {
        lock (_lock)
        {
            if (!_users.ContainsKey(name)) return false;
            var next = new Dictionary<string, UserAccount>(_users, StringComparer.Ordinal);
            next.Remove(name);
            Save(next);
            return true;
        }
    }

    /// <summary>Changes a user's role; null when there is no such user.</summary>
    public UserAccount? SetRole(string name, AccessRole role)
    {
        lock (_lock)
        {
            if (!_users.TryGetValue(name, out var user)) return null;
            var changed = user with { Role = role };
            Save(new Dictionary<string, UserAccount>(_users, StringComparer.Ordinal) { [name] = changed });
            return changed;
        }
    }

    /// <summary>
    /// The identity of <paramref name="name"/> when <paramref name="password"/> is theirs, or null. Costs one PBKDF2
    /// derivation whether or not the user exists; a hash made with fewer iterations than today's is replaced.
    /// </summary>
    public AccessIdentity? Verify(string name, string password)
    {
        if (string.IsNullOrEmpty(password) || password.Length > PasswordHash.MaximumLength) return null;
        var user = Find(name);
        if (user is null)
        {
            PasswordHash.Waste(password);
            return null;
        }
        if (!user.Password.Verify(password)) return null;
        if (user.Password.Iterations < _iterations)
        {
            var stronger = PasswordHash.Create(password, _iterations);
            lock (_lock)
            {
                if (_users.TryGetValue(name, out var now) && now.Password == user.Password)
                    Save(new Dictionary<string, UserAccount>(_users, StringComparer.Ordinal) { [name] = now with { Password = stronger } });
            }
        }
        return Identity(user);
    }

    /// <summary>The identity a user has now (its current role), or null when the user is gone.</summary>
    public AccessIdentity? Current(string name) => Find(name) is { } user ? Identity(user) : null;

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="name"/> may name a user.</summary>
    public static void ValidateName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > 128 || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@')))
            // The name is not echoed: it may hold control characters or be very long.
            throw new ArgumentException($"a user name must be 1-128 letters, digits, '-', '_', '.' or '@' (got {(name is null ? "none" : $"{name.Length} characters")})");
    }

    /// <summary>How a refusal may name the user that was tried: the name itself when it could be one, else a placeholder (a refusal must not echo arbitrary input).</summary>
    public static string Quoted(string? name)
    {
        try
        {
            ValidateName(name);
            return $"'{name}'";
        }
        catch (ArgumentException)
        {
            return "(not a valid user name)";
        }
    }

    private static AccessIdentity Identity(UserAccount user) => new(user.Name, user.Role) { Origin = "user:" + user.Name };

    private void Save(Dictionary<string, UserAccount> users)
    {
        var records = users.Values.OrderBy(u => u.Name, StringComparer.Ordinal).Select(u => new StoredUser
        {
            Name = u.Name,
            Role = Permissions.NameOf(u.Role),
            Algorithm = "pbkdf2-sha256",
            Iterations = u.Password.Iterations,
            Salt = u.Password.Salt,
            Hash = u.Password.Hash,
            Created = u.Created,
        }).ToList();
        DataFiles.WriteOwnerOnly(_file, JsonSerializer.Serialize(records, UsersJson.Default.ListStoredUser) + "\n");
        _users = users;
    }

    private static Dictionary<string, UserAccount> Load(string file)
    {
        var users = new Dictionary<string, UserAccount>(StringComparer.Ordinal);
        if (!File.Exists(file)) return users;
        List<StoredUser>? records;
        try
        {
            records = JsonSerializer.Deserialize(File.ReadAllText(file), UsersJson.Default.ListStoredUser);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"{file}: not a users file ({e.Message})");
        }
        foreach (var r in records ?? [])
        {
            if (r.Algorithm != "pbkdf2-sha256") throw new InvalidOperationException($"{file}: user '{r.Name}' has password algorithm '{r.Algorithm}'; only pbkdf2-sha256 is known");
            AccessRole role;
            try
            {
                ValidateName(r.Name);
                role = Permissions.ParseRole(r.Role);
            }
            catch (ArgumentException e)
            {
                throw new InvalidOperationException($"{file}: {e.Message}");
            }
            users[r.Name] = new UserAccount(r.Name, role, new PasswordHash(r.Iterations, r.Salt, r.Hash), r.Created);
        }
        return users;
    }

    // Source-generated (no reflection): the same JSON as the reflection-based serializer, and a NativeAOT build can read it.
    [JsonSourceGenerationOptions(WriteIndented = true)]
    [JsonSerializable(typeof(List<StoredUser>))]
    private sealed partial class UsersJson : JsonSerializerContext;

    private sealed class StoredUser
    {
        public string Name { get; init; } = "";

        public string Role { get; init; } = "";

        public string Algorithm { get; init; } = "";

        public int Iterations { get; init; }

        public string Salt { get; init; } = "";

        public string Hash { get; init; } = "";

        public DateTimeOffset Created { get; init; }
    }
}
