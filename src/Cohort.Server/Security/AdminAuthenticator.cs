using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>Checks the operator's admin token on Control API calls.</summary>
public sealed class AdminAuthenticator
{
    private readonly string _adminToken;

    /// <summary>Uses <paramref name="adminToken"/>; refuses an empty or short one, which would mean no authentication.</summary>
    public AdminAuthenticator(string adminToken)
    {
        Tokens.DemandStrong(adminToken, "the server settings");
        _adminToken = adminToken.Trim();
    }

    /// <summary>True when <paramref name="token"/> is the admin token (constant-time).</summary>
    public bool IsAdminToken(string token) => Tokens.Equal(token, _adminToken);

    /// <summary>Throws Unauthenticated unless the call carries the admin token.</summary>
    public void Demand(ServerCallContext context)
    {
        string? token = Tokens.FromHeader(context.RequestHeaders.GetValue("authorization"));
        if (string.IsNullOrEmpty(token)) throw new RpcException(new Status(StatusCode.Unauthenticated, "missing admin token (authorization: Bearer <token>)"));
        if (!Tokens.Equal(token, _adminToken)) throw new RpcException(new Status(StatusCode.Unauthenticated, "wrong admin token"));
    }
}
