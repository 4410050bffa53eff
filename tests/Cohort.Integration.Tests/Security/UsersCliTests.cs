using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Security;

namespace Cohort.Integration.Tests.Security;

/// <summary><c>cohort users</c>, <c>cohort login</c> and <c>cohort token create --role</c> as an operator runs them, against a server process.</summary>
public sealed class UsersCliTests
{
    [Fact]
    public async Task An_admin_manages_users_from_the_cli_and_a_user_logs_in_with_a_password_read_from_a_file()
    {
        await using var server = await ServerProcess.StartAsync();
        string[] connect = ["--server", server.Address.ToString(), "--ca", server.CaFile, "--data-dir", Path.Combine(server.DataDir, "none")];
        string[] asAdmin = [.. connect, "--admin-token", server.AdminToken];
        string passwordFile = Path.Combine(server.DataDir, "alice.password");
        await File.WriteAllTextAsync(passwordFile, "a long enough passphrase\n");

        await Ok(["users", "add", "alice", "--role", "operator", "--password-file", passwordFile, .. asAdmin], "added alice (operator)");
        string list = await Ok(["users", "list", .. asAdmin], "alice");
        Assert.Contains("operator", list, StringComparison.Ordinal);
        await Refused(["users", "add", "alice", "--role", "viewer", "--password-file", passwordFile, .. asAdmin], "user 'alice' exists already");
        await Refused(["users", "add", "eve", "--role", "root", "--password-file", passwordFile, .. asAdmin], "role 'root' must be one of viewer, operator, admin");
        Assert.DoesNotContain("a long enough passphrase", await File.ReadAllTextAsync(UserAccounts.FileIn(server.DataDir)), StringComparison.Ordinal);

        // Alice logs in; the session token is the line of standard output (the note goes to standard error).
        string session = CliProcess.TokenIn(await Ok(["login", "--user", "alice", "--password-file", passwordFile, .. connect], "logged in as alice (operator)"));
        await Ok(["run", "list", .. connect, "--token", session], "");
        await Refused(["users", "list", .. connect, "--token", session], "role operator lacks permission manage_users ('alice')");
        await Refused(["token", "create", "site-a", .. connect, "--token", session], "role operator lacks permission manage_nodes ('alice')");

        // An operator token for a tool, then a role change and removal.
        string ciToken = CliProcess.TokenIn(await Ok(["token", "create", "ci-bot", "--viewer", "--role", "operator", .. asAdmin], ""));
        await Ok(["run", "list", .. connect, "--token", ciToken], "");
        await Ok(["users", "set-role", "alice", "--role", "admin", .. asAdmin], "alice is now admin");
        await Ok(["users", "list", .. connect, "--token", session], "alice");
        // A second session ends at logout; the first goes on.
        string second = CliProcess.TokenIn(await Ok(["login", "--user", "alice", "--password-file", passwordFile, .. connect], "logged in as alice (admin)"));
        await Ok(["logout", .. connect, "--token", second], "session ended");
        await Refused(["run", "list", .. connect, "--token", second], "unknown admin or operator token, or expired session");
        await Ok(["users", "remove", "alice", .. asAdmin], "removed alice (1 session(s) ended)");
        await Refused(["run", "list", .. connect, "--token", session], "unknown admin or operator token, or expired session");
        await Refused(["login", "--user", "alice", "--password-file", passwordFile, .. connect], "wrong user name or password for 'alice'");
    }

    private static async Task<string> Ok(string[] args, string expected)
    {
        var (code, output) = await CliProcess.RunAsync(args);
        Assert.True(code == 0, $"cohort {string.Join(' ', args)} exited {code}:\n{output}");
        Assert.Contains(expected, output, StringComparison.Ordinal);
        return output;
    }

    private static async Task Refused(string[] args, string expected)
    {
        var (code, output) = await CliProcess.RunAsync(args);
        Assert.True(code == 1, $"cohort {string.Join(' ', args)} exited {code}, expected 1:\n{output}");
        Assert.Contains(expected, output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }
}
