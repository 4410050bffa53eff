namespace Cohort.Server.Security;

/// <summary>What a person or tool may do on the Control API and the dashboard; <see cref="Permissions"/> says exactly what.</summary>
internal enum AccessRole
{
    /// <summary>Reads runs, nodes and metrics; changes nothing.</summary>
    Viewer,

    /// <summary>Also submits and stops runs and pulls models.</summary>
    Operator,

    /// <summary>Everything: nodes and their tokens, users and operator tokens, certificates, policies.</summary>
    Admin,
}

/// <summary>Who a request comes from, once its token, session, password or certificate is checked.</summary>
/// <param name="Name">Operator name ("admin" for the admin token, the token's, user's or certificate's name otherwise).</param>
/// <param name="Role">What the operator may do.</param>
internal sealed record AccessIdentity(string Name, AccessRole Role)
{
    /// <summary>
    /// The credential behind the identity ("admin-token", "token:SHA256", "user:NAME", "certificate"): a session
    /// remembers it so that the session ends when the credential is replaced or removed.
    /// </summary>
    public string Origin { get; init; } = "";

    /// <summary>True for an admin.</summary>
    public bool IsAdmin => Role == AccessRole.Admin;

    /// <summary>True when the role grants <paramref name="permission"/>.</summary>
    public bool Can(Permission permission) => Permissions.Grants(Role, permission);
}
