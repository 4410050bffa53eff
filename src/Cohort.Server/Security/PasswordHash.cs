using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Cohort.Server.Security;

/// <summary>
/// A stored password: PBKDF2-HMAC-SHA256 with a random 16-byte salt. The iteration count is stored with the
/// hash, so raising <see cref="Iterations"/> later leaves old hashes verifiable (and they are rehashed at the
/// next successful login).
/// </summary>
/// <param name="Iterations">PBKDF2 iterations this hash was made with.</param>
/// <param name="Salt">Random salt, base64.</param>
/// <param name="Hash">Derived key, base64.</param>
internal sealed record PasswordHash(int Iterations, string Salt, string Hash)
{
    /// <summary>Iterations for new hashes (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).</summary>
    public const int DefaultIterations = 600_000;

    /// <summary>Fewest characters a password may have.</summary>
    public const int MinimumLength = 12;

    /// <summary>Most characters a password may have (PBKDF2 hashes long inputs first; the cap keeps requests small).</summary>
    public const int MaximumLength = 1024;

    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    /// <summary>Hashes <paramref name="password"/> with a fresh salt.</summary>
    public static PasswordHash Create(string password, int iterations = DefaultIterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        return new PasswordHash(iterations, Convert.ToBase64String(salt), Convert.ToBase64String(Derive(password, salt, iterations)));
    }

    /// <summary>True when <paramref name="password"/> is the one hashed (fixed-time comparison of the derived keys).</summary>
    public bool Verify(string password)
    {
        byte[] salt, expected;
        try
        {
            salt = Convert.FromBase64String(Salt);
            expected = Convert.FromBase64String(Hash);
        }
        catch (FormatException)
        {
            return false;
        }
        if (Iterations <= 0 || expected.Length != HashBytes) return false;
        return CryptographicOperations.FixedTimeEquals(Derive(password, salt, Iterations), expected);
    }

    /// <summary>Spends the time one verification takes, so an unknown user name answers no faster than a wrong password.</summary>
    public static void Waste(string password) => _ = Derive(password, new byte[SaltBytes], DefaultIterations);

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="password"/> may be set for <paramref name="user"/>.</summary>
    public static void DemandAcceptable(string? password, string user)
    {
        if (string.IsNullOrEmpty(password)) throw new ArgumentException($"password for '{user}' is empty");
        if (password.Length < MinimumLength)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"password for '{user}' has {password.Length} characters; it needs at least {MinimumLength}"));
        if (password.Length > MaximumLength)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"password for '{user}' has {password.Length} characters; at most {MaximumLength} are allowed"));
    }

    private static byte[] Derive(string password, byte[] salt, int iterations) =>
        Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(password), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
}
