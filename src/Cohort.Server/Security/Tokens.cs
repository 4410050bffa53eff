using System.Security.Cryptography;
using System.Text;

namespace Cohort.Server.Security;

/// <summary>Random bearer tokens and the hashes the server stores instead of them.</summary>
internal static class Tokens
{
    /// <summary>A new random token (256 bits, URL-safe).</summary>
    public static string New() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>SHA-256 of the token, hex. Tokens carry 256 bits of entropy, so a plain hash (no salt, no stretching) is enough.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Fewest characters an operator-chosen secret (the admin token) may have.</summary>
    public const int MinimumSecretLength = 32;

    /// <summary>Constant-time comparison of two tokens; an empty token never equals anything, not even another empty one.</summary>
    public static bool Equal(string? a, string? b)
    {
        // An unset variable in a unit file must not turn into "no authentication".
        if (string.IsNullOrEmpty(a) || string.IsNullOrEmpty(b)) return false;
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="source"/> unless <paramref name="secret"/> is long enough to be a secret.</summary>
    public static void DemandStrong(string? secret, string source)
    {
        string value = secret?.Trim() ?? "";
        if (value.Length == 0)
            throw new ArgumentException($"admin token from {source} is empty; it must have at least {MinimumSecretLength} characters (omit it to have one generated)");
        if (value.Length < MinimumSecretLength)
            throw new ArgumentException($"admin token from {source} has {value.Length} characters; it must have at least {MinimumSecretLength} (omit it to have one generated)");
    }

    /// <summary>The bearer token of an "authorization" header value, or null.</summary>
    public static string? FromHeader(string? header)
    {
        if (string.IsNullOrEmpty(header)) return null;
        const string Prefix = "Bearer ";
        return header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? header[Prefix.Length..].Trim() : null;
    }
}
