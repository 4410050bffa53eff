namespace Cohort.Server.Security;

/// <summary>A named user: role and password hash.</summary>
/// <param name="Name">Login name.</param>
/// <param name="Role">What the user may do.</param>
/// <param name="Password">The stored hash (never the password).</param>
/// <param name="Created">When the user was added.</param>
internal sealed record UserAccount(string Name, AccessRole Role, PasswordHash Password, DateTimeOffset Created);
