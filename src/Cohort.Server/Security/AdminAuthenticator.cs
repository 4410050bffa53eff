using Cohort.Server.Security.Provisioning;
using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>Checks the operator's admin token (or an admin certificate with role admin) on Control API calls.</summary>
public sealed class AdminAuthenticator(string adminToken, AdminCertificates? certificates = null)
{
    /// <summary>True when <paramref name="token"/> is the admin token (constant-time).</summary>
    public bool IsAdminToken(string token) => Tokens.Equal(token, adminToken);

    /// <summary>Throws Unauthenticated unless the call carries the admin token.</summary>
    public void Demand(ServerCallContext context)
    {
        if (certificates?.Admits(context) == true) return;
        string? token = Tokens.FromHeader(context.RequestHeaders.GetValue("authorization"));
        if (token is null) throw new RpcException(new Status(StatusCode.Unauthenticated, "missing admin token (authorization: Bearer <token>)"));
        if (!Tokens.Equal(token, adminToken)) throw new RpcException(new Status(StatusCode.Unauthenticated, "wrong admin token"));
    }
}
