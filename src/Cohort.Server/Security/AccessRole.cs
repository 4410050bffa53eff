namespace Cohort.Server.Security;

/// <summary>What an operator may do on the dashboard: an admin sees and acts, a viewer only sees.</summary>
internal enum AccessRole
{
    /// <summary>May see everything but start, stop or change nothing.</summary>
    Viewer,

    /// <summary>May also start and stop runs.</summary>
    Admin,
}

/// <summary>Who a request comes from, once its token or session cookie is checked.</summary>
/// <param name="Name">Operator name ("admin" for the admin token, the viewer token's name otherwise).</param>
/// <param name="Role">What the operator may do.</param>
internal sealed record AccessIdentity(string Name, AccessRole Role)
{
    /// <summary>True for an admin.</summary>
    public bool IsAdmin => Role == AccessRole.Admin;
}
