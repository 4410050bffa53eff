using System.Security.Cryptography;
using System.Text;

namespace Cohort.Server.Security;

/// <summary>Random bearer tokens and the hashes the server stores instead of them.</summary>
public static class Tokens
{
    /// <summary>A new random token (256 bits, URL-safe).</summary>
    public static string New() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>SHA-256 of the token, hex. Tokens carry 256 bits of entropy, so a plain hash (no salt, no stretching) is enough.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    /// <summary>Constant-time comparison of two tokens.</summary>
    public static bool Equal(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));

    /// <summary>The bearer token of an "authorization" header value, or null.</summary>
    public static string? FromHeader(string? header)
    {
        if (string.IsNullOrEmpty(header)) return null;
        const string Prefix = "Bearer ";
        return header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) ? header[Prefix.Length..].Trim() : null;
    }
}
