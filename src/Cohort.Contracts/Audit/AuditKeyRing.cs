using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Audit;

/// <summary>The certificates whose keys may have signed a ledger, by key id; checks signatures.</summary>
public sealed class AuditKeyRing
{
    private readonly Dictionary<string, X509Certificate2> _byId = new(StringComparer.Ordinal);

    /// <summary>A ring holding <paramref name="certificates"/>.</summary>
    public AuditKeyRing(IEnumerable<X509Certificate2> certificates)
    {
        foreach (var c in certificates) _byId.TryAdd(AuditSigner.KeyIdOf(c), c);
    }

    /// <summary>Reads every certificate in a PEM file; throws <see cref="InvalidDataException"/> naming the file when it holds none.</summary>
    public static AuditKeyRing Load(string pemFile)
    {
        if (!File.Exists(pemFile)) throw new FileNotFoundException($"{pemFile} not found", pemFile);
        return FromPem(File.ReadAllText(pemFile), pemFile);
    }

    /// <summary>Reads every certificate in PEM text.</summary>
    public static AuditKeyRing FromPem(string pem, string source)
    {
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPem(pem);
        }
        catch (CryptographicException e)
        {
            throw new InvalidDataException($"{source}: not PEM certificates ({e.Message})");
        }
        if (collection.Count == 0) throw new InvalidDataException($"{source}: holds no certificate");
        return new AuditKeyRing(collection);
    }

    /// <summary>The key ids in the ring.</summary>
    public IReadOnlyCollection<string> KeyIds => _byId.Keys;

    /// <summary>True when the ring holds the key <paramref name="keyId"/>.</summary>
    public bool Holds(string keyId) => _byId.ContainsKey(keyId);

    /// <summary>The certificate of a key, or null.</summary>
    public X509Certificate2? Certificate(string keyId) => _byId.GetValueOrDefault(keyId);

    /// <summary>True when <paramref name="sigBase64"/> is a valid signature of <paramref name="hashHex"/> by the key <paramref name="keyId"/>.</summary>
    public bool Verify(string keyId, string hashHex, string sigBase64)
    {
        if (!_byId.TryGetValue(keyId, out var certificate)) return false;
        byte[] hash, sig;
        try
        {
            hash = Convert.FromHexString(hashHex);
            sig = Convert.FromBase64String(sigBase64);
        }
        catch (FormatException)
        {
            return false;
        }
        using var ecdsa = certificate.GetECDsaPublicKey();
        if (ecdsa is not null) return ecdsa.VerifyHash(hash, sig, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        using var rsa = certificate.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyHash(hash, sig, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }
}
