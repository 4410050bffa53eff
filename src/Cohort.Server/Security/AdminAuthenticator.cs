using Cohort.Server.Security.Provisioning;
using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>Checks the operator's admin token (or an admin certificate with role admin) on Control API calls.</summary>
internal sealed class AdminAuthenticator
{
    private readonly string _adminToken;
    private readonly AdminCertificates? _certificates;

    /// <summary>Uses <paramref name="adminToken"/>; refuses an empty or short one, which would mean no authentication.</summary>
    public AdminAuthenticator(string adminToken, AdminCertificates? certificates = null)
    {
        Tokens.DemandStrong(adminToken, "the server settings");
        _adminToken = adminToken.Trim();
        _certificates = certificates;
    }

    /// <summary>True when <paramref name="token"/> is the admin token (constant-time).</summary>
    public bool IsAdminToken(string token) => Tokens.Equal(token, _adminToken);

    /// <summary>True when the connection carries an admin certificate with role admin; throws PermissionDenied for a revoked or lesser one.</summary>
    public bool AdmitsCertificate(Microsoft.AspNetCore.Http.HttpContext http) => _certificates?.Admits(http) == true;

    /// <summary>Throws Unauthenticated unless the call carries the admin token or an admin certificate.</summary>
    public void Demand(ServerCallContext context)
    {
        if (_certificates?.Admits(context) == true) return;
        string? token = Tokens.FromHeader(context.RequestHeaders.GetValue("authorization"));
        if (string.IsNullOrEmpty(token)) throw new RpcException(new Status(StatusCode.Unauthenticated, "missing admin token (authorization: Bearer <token>)"));
        if (!Tokens.Equal(token, _adminToken)) throw new RpcException(new Status(StatusCode.Unauthenticated, "wrong admin token"));
    }
}
