using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace Cohort.Server.Security.Provisioning;

/// <summary>
/// How federation certificates name their holder: <c>CN=</c> the node, admin or host name, <c>OU=</c> the
/// <see cref="CertificateKind"/>, <c>O=</c> the federation and, on admin certificates, <c>T=</c> (title,
/// OID 2.5.4.12) the role. The authority sets every attribute itself; a request only proposes the name.
/// </summary>
internal static class FederationNames
{
    /// <summary>Roles an admin certificate can carry.</summary>
    public static readonly IReadOnlyList<string> Roles = ["viewer", "operator", "admin"];

    private const string CommonNameOid = "2.5.4.3";
    private const string OrganizationOid = "2.5.4.10";
    private const string UnitOid = "2.5.4.11";
    private const string TitleOid = "2.5.4.12";

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="name"/> is a usable node, admin or federation name.</summary>
    public static void Validate(string name, string what)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || name[0] is '-' or '.' ||
            name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new ArgumentException($"{what} '{name}' must be 1-64 letters, digits, '-', '_' or '.', not starting with '-' or '.'");
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="host"/> is a DNS name or an IP address.</summary>
    public static void ValidateHost(string host)
    {
        if (IPAddress.TryParse(host, out _)) return;
        if (Uri.CheckHostName(host) != UriHostNameType.Dns || host.Length > 253)
            throw new ArgumentException($"--host '{host}' is neither a DNS name nor an IP address");
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="role"/> is one of <see cref="Roles"/>.</summary>
    public static void ValidateRole(string role)
    {
        if (!Roles.Contains(role)) throw new ArgumentException($"role '{role}' must be one of {string.Join(", ", Roles)}");
    }

    /// <summary>The subject of a certificate of <paramref name="kind"/> for <paramref name="name"/>.</summary>
    public static X500DistinguishedName Subject(CertificateKind kind, string name, string federation, string? role = null)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddOrganizationName(federation);
        builder.AddOrganizationalUnitName(KindName(kind));
        if (role is not null) builder.Add(TitleOid, role);
        builder.AddCommonName(name);
        return builder.Build();
    }

    /// <summary>The lower-case word used for a kind (<c>node</c>, <c>admin</c>, …).</summary>
    public static string KindName(CertificateKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>Parses a kind word; throws <see cref="ArgumentException"/> naming the allowed ones.</summary>
    public static CertificateKind ParseKind(string text, params CertificateKind[] allowed)
    {
        foreach (var kind in allowed)
        {
            if (KindName(kind) == text) return kind;
        }
        throw new ArgumentException($"--kind '{text}' must be one of {string.Join(", ", allowed.Select(KindName))}");
    }

    /// <summary>The kind a certificate was issued as, or null for a certificate without one (issued outside provisioning).</summary>
    public static CertificateKind? KindOf(X509Certificate2 certificate) => KindOf(certificate.SubjectName);

    /// <summary>The kind a subject names, or null when it names none.</summary>
    public static CertificateKind? KindOf(X500DistinguishedName subject)
    {
        string? unit = Attribute(subject, UnitOid);
        return unit is null ? null : Enum.GetValues<CertificateKind>().Cast<CertificateKind?>().FirstOrDefault(k => KindName(k!.Value) == unit);
    }

    /// <summary>The role of an admin certificate, or null.</summary>
    public static string? RoleOf(X509Certificate2 certificate) => Attribute(certificate.SubjectName, TitleOid);

    /// <summary>The common name (node, admin or host name), or null.</summary>
    public static string? NameOf(X500DistinguishedName subject) => Attribute(subject, CommonNameOid);

    /// <summary>The federation (organisation) name, or null.</summary>
    public static string? FederationOf(X509Certificate2 certificate) => Attribute(certificate.SubjectName, OrganizationOid);

    private static string? Attribute(X500DistinguishedName name, string oid)
    {
        foreach (var rdn in name.EnumerateRelativeDistinguishedNames())
        {
            if (!rdn.HasMultipleElements && rdn.GetSingleElementType().Value == oid) return rdn.GetSingleElementValue();
        }
        return null;
    }
}
