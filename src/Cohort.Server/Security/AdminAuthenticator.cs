using Cohort.Server.Security.Provisioning;

namespace Cohort.Server.Security;

/// <summary>Knows the operator's admin token and, when the server has a client CA, reads operator certificates.</summary>
internal sealed class AdminAuthenticator
{
    private readonly string _adminToken;
    private readonly string _adminTokenHash;
    private readonly AdminCertificates? _certificates;

    /// <summary>Uses <paramref name="adminToken"/>; refuses an empty or short one, which would mean no authentication.</summary>
    public AdminAuthenticator(string adminToken, AdminCertificates? certificates = null)
    {
        Tokens.DemandStrong(adminToken, "the server settings");
        _adminToken = adminToken.Trim();
        _adminTokenHash = Tokens.Hash(_adminToken);
        _certificates = certificates;
    }

    /// <summary>True when <paramref name="token"/> is the admin token (constant-time).</summary>
    public bool IsAdminToken(string token) => Tokens.Equal(token, _adminToken);

    /// <summary>True when <paramref name="hash"/> is the SHA-256 of the admin token (a session started with it; false once the token changed).</summary>
    public bool IsAdminTokenHash(string hash) => Tokens.Equal(hash, _adminTokenHash);

    /// <summary>The holder of the connection's operator certificate, or null; throws PermissionDenied for a revoked one.</summary>
    public AccessIdentity? CertificateIdentity(Microsoft.AspNetCore.Http.HttpContext http) => _certificates?.Identify(http);
}
