using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// A certificate revocation list (RFC 5280 CRL) read back and checked against its issuing CA: the
/// signature must verify with the CA's key and the issuer must be the CA, or the list is refused.
/// </summary>
internal sealed class RevocationList
{
    private readonly HashSet<string> _serials;

    private RevocationList(HashSet<string> serials, DateTimeOffset thisUpdate)
    {
        _serials = serials;
        ThisUpdate = thisUpdate;
    }

    /// <summary>An empty list (nothing revoked).</summary>
    public static RevocationList Empty { get; } = new([], DateTimeOffset.MinValue);

    /// <summary>Revoked serial numbers, upper-case hex without leading zero bytes.</summary>
    public IReadOnlyCollection<string> Serials => _serials;

    /// <summary>When the issuer signed this list.</summary>
    public DateTimeOffset ThisUpdate { get; }

    /// <summary>True when <paramref name="certificate"/>'s serial number is on the list.</summary>
    public bool Contains(X509Certificate2 certificate) => _serials.Contains(NormalizeSerial(certificate.SerialNumber));

    /// <summary>A serial number in the list's form (upper-case hex, no leading zero bytes).</summary>
    public static string NormalizeSerial(string hex)
    {
        hex = hex.ToUpperInvariant();
        while (hex.Length > 2 && hex.StartsWith("00", StringComparison.Ordinal)) hex = hex[2..];
        return hex;
    }

    /// <summary>Reads a PEM (<c>X509 CRL</c>) or DER list; throws <see cref="InvalidDataException"/> naming <paramref name="source"/> when it is malformed, not issued by <paramref name="issuer"/> or its signature fails.</summary>
    public static RevocationList Read(byte[] content, X509Certificate2 issuer, string source)
    {
        byte[] der = content;
        var text = System.Text.Encoding.ASCII.GetString(content);
        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            if (!PemEncoding.TryFind(text, out var fields) || text[fields.Label] != "X509 CRL")
                throw new InvalidDataException($"revocation list {source}: no '-----BEGIN X509 CRL-----' block");
            der = Convert.FromBase64String(text[fields.Base64Data]);
        }
        try
        {
            return Parse(der, issuer, source);
        }
        catch (AsnContentException e)
        {
            throw new InvalidDataException($"revocation list {source}: malformed ({e.Message})");
        }
    }

    private static RevocationList Parse(byte[] der, X509Certificate2 issuer, string source)
    {
        var outer = new AsnReader(der, AsnEncodingRules.DER);
        var certList = outer.ReadSequence();
        outer.ThrowIfNotEmpty();
        var tbsBytes = certList.ReadEncodedValue();
        var algorithm = certList.ReadSequence();
        string signatureOid = algorithm.ReadObjectIdentifier();
        byte[] signature = certList.ReadBitString(out _);
        certList.ThrowIfNotEmpty();
        if (!SignatureVerifies(issuer, signatureOid, tbsBytes.Span, signature))
            throw new InvalidDataException($"revocation list {source}: signature does not verify with the CA {issuer.Subject}");

        var tbs = new AsnReader(tbsBytes, AsnEncodingRules.DER).ReadSequence();
        if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer)) tbs.ReadInteger();
        tbs.ReadSequence();
        var issuerName = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
        if (!issuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
            throw new InvalidDataException($"revocation list {source}: issued by '{issuerName.Name}', not by the CA '{issuer.Subject}'");
        var thisUpdate = ReadTime(tbs);
        if (tbs.HasData && IsTime(tbs.PeekTag())) ReadTime(tbs);
        var serials = new HashSet<string>(StringComparer.Ordinal);
        if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
        {
            var entries = tbs.ReadSequence();
            while (entries.HasData)
            {
                var entry = entries.ReadSequence();
                serials.Add(NormalizeSerial(Convert.ToHexString(entry.ReadIntegerBytes().Span)));
            }
        }
        return new RevocationList(serials, thisUpdate);
    }

    private static bool SignatureVerifies(X509Certificate2 issuer, string oid, ReadOnlySpan<byte> data, byte[] signature)
    {
        HashAlgorithmName? hash = oid switch
        {
            "1.2.840.10045.4.3.2" or "1.2.840.113549.1.1.11" => HashAlgorithmName.SHA256,
            "1.2.840.10045.4.3.3" or "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
            "1.2.840.10045.4.3.4" or "1.2.840.113549.1.1.13" => HashAlgorithmName.SHA512,
            _ => null,
        };
        if (hash is null) return false;
        if (oid.StartsWith("1.2.840.10045", StringComparison.Ordinal))
        {
            using var ec = issuer.GetECDsaPublicKey();
            return ec is not null && ec.VerifyData(data, signature, hash.Value, DSASignatureFormat.Rfc3279DerSequence);
        }
        using var rsa = issuer.GetRSAPublicKey();
        return rsa is not null && rsa.VerifyData(data, signature, hash.Value, RSASignaturePadding.Pkcs1);
    }

    private static bool IsTime(Asn1Tag tag) =>
        tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}
