using System.Collections.Frozen;
using Grpc.Core;

namespace Cohort.Server.Security;

/// <summary>
/// The one table of what each role may do, used by the Control API (<c>ControlService</c>) and the dashboard
/// alike, so a rule cannot hold on one and not the other.
/// </summary>
internal static class Permissions
{
    private static readonly Permission[] Read = [Permission.ReadRuns, Permission.ReadNodes];
    private static readonly Permission[] Operate = [.. Read, Permission.SubmitRun, Permission.StopRun, Permission.PullModel];

    /// <summary>Each role's permissions.</summary>
    public static readonly FrozenDictionary<AccessRole, FrozenSet<Permission>> ByRole = new Dictionary<AccessRole, FrozenSet<Permission>>
    {
        [AccessRole.Viewer] = Read.ToFrozenSet(),
        [AccessRole.Operator] = Operate.ToFrozenSet(),
        [AccessRole.Admin] = Enum.GetValues<Permission>().ToFrozenSet(),
    }.ToFrozenDictionary();

    /// <summary>True when <paramref name="role"/> has <paramref name="permission"/>.</summary>
    public static bool Grants(AccessRole role, Permission permission) => ByRole.TryGetValue(role, out var set) && set.Contains(permission);

    /// <summary>The permission's name in messages and docs: <c>submit_run</c>.</summary>
    public static string NameOf(Permission permission) => permission switch
    {
        Permission.ReadRuns => "read_runs",
        Permission.ReadNodes => "read_nodes",
        Permission.SubmitRun => "submit_run",
        Permission.StopRun => "stop_run",
        Permission.PullModel => "pull_model",
        Permission.ManageNodes => "manage_nodes",
        Permission.ManageUsers => "manage_users",
        Permission.ManageCertificates => "manage_certificates",
        Permission.ManagePolicies => "manage_policies",
        Permission.ReadAudit => "read_audit",
        _ => permission.ToString(),
    };

    /// <summary>The role's name: viewer, operator or admin.</summary>
    public static string NameOf(AccessRole role) => role switch
    {
        AccessRole.Viewer => "viewer",
        AccessRole.Operator => "operator",
        AccessRole.Admin => "admin",
        _ => role.ToString(),
    };

    /// <summary>The role named <paramref name="name"/>; throws <see cref="ArgumentException"/> naming the choices otherwise.</summary>
    public static AccessRole ParseRole(string? name) => name?.Trim() switch
    {
        "viewer" => AccessRole.Viewer,
        "operator" => AccessRole.Operator,
        "admin" => AccessRole.Admin,
        _ => throw new ArgumentException($"role '{name}' must be one of viewer, operator, admin"),
    };

    /// <summary>The refusal every surface shows: "role viewer lacks permission submit_run".</summary>
    public static string Refusal(AccessIdentity who, Permission permission) =>
        $"role {NameOf(who.Role)} lacks permission {NameOf(permission)} ('{who.Name}')";

    /// <summary>Throws PermissionDenied naming the missing permission unless <paramref name="who"/> has it.</summary>
    public static void Demand(AccessIdentity who, Permission permission)
    {
        if (!who.Can(permission)) throw new RpcException(new Status(StatusCode.PermissionDenied, Refusal(who, permission)));
    }
}
