using System.CommandLine;
using Cohort.Cli.Control;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort users</c>, <c>cohort login</c>, <c>cohort logout</c>: named users with passwords and roles.</summary>
internal static class UsersCommand
{
    /// <summary>Builds <c>users</c>.</summary>
    public static Command Create()
    {
        var users = new Command("users", "Named users who log in with a password (dashboard and `cohort login`); needs the manage_users permission (admin)");
        users.Subcommands.Add(Add());
        users.Subcommands.Add(List());
        users.Subcommands.Add(Remove());
        users.Subcommands.Add(SetRole());
        return users;
    }

    /// <summary>Builds <c>login</c>.</summary>
    public static Command CreateLogin()
    {
        var control = new ControlOptions();
        var user = new Option<string>("--user", "-u") { Description = "User name", Required = true };
        var passwordFile = new Option<string?>("--password-file") { Description = "Read the password from this file's first line (default: standard input, or typed at the terminal)" };
        var command = new Command("login", "Log in as a named user: prints a session token (12 hours) to pass as --token or COHORT_TOKEN to other commands") { user, passwordFile };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            string password = PasswordInput.Read(pr.GetValue(passwordFile), "password: ", confirm: false);
            using var client = new ControlClient(control.Resolve(pr, anonymous: true));
            var reply = await client.LoginAsync(pr.GetValue(user)!, password, ct);
            Console.Error.WriteLine($"logged in as {pr.GetValue(user)} ({reply.Role}) until {reply.ExpiresAt}; export COHORT_TOKEN=<the token below>");
            Console.WriteLine(reply.Token);
            return 0;
        });
        return command;
    }

    /// <summary>Builds <c>logout</c>.</summary>
    public static Command CreateLogout()
    {
        var control = new ControlOptions();
        var command = new Command("logout", "End the session whose token --token (or COHORT_TOKEN) carries");
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            bool ended = await client.LogoutAsync(ct);
            Console.WriteLine(ended ? "session ended" : "no session to end (the token is not a session token, or it expired)");
            return 0;
        });
        return command;
    }

    private static Command Add()
    {
        var control = new ControlOptions();
        var name = new Argument<string>("name") { Description = "User name (letters, digits, '-', '_', '.', '@')" };
        var role = new Option<string>("--role") { Description = "viewer, operator or admin", Required = true };
        var passwordFile = new Option<string?>("--password-file") { Description = "Read the password from this file's first line (default: standard input, or typed twice at the terminal); at least 12 characters" };
        var command = new Command("add", "Add a user; the server stores a PBKDF2-SHA256 hash of the password, never the password") { name, role, passwordFile };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            string password = PasswordInput.Read(pr.GetValue(passwordFile), "password for " + pr.GetValue(name) + ": ", confirm: true);
            using var client = new ControlClient(control.Resolve(pr));
            var user = await client.AddUserAsync(pr.GetValue(name)!, pr.GetValue(role)!, password, ct);
            Console.WriteLine($"added {user.Name} ({user.Role})");
            return 0;
        });
        return command;
    }

    private static Command List()
    {
        var control = new ControlOptions();
        var json = new Option<bool>("--json") { Description = "Print JSON" };
        var command = new Command("list", "List users and their roles") { json };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var users = await client.ListUsersAsync(ct);
            if (pr.GetValue(json))
            {
                var reply = new Transport.V1.ListUsersReply();
                reply.Users.AddRange(users);
                Console.WriteLine(RunReport.ToJson(reply));
            }
            else
            {
                foreach (var u in users) Console.WriteLine($"{u.Name,-24} {u.Role,-9} {u.CreatedAt}");
            }
            return 0;
        });
        return command;
    }

    private static Command Remove()
    {
        var control = new ControlOptions();
        var name = new Argument<string>("name") { Description = "User name" };
        var command = new Command("remove", "Remove a user and end their sessions at once") { name };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var reply = await client.RemoveUserAsync(pr.GetValue(name)!, ct);
            Console.WriteLine($"removed {pr.GetValue(name)} ({reply.SessionsEnded} session(s) ended)");
            return 0;
        });
        return command;
    }

    private static Command SetRole()
    {
        var control = new ControlOptions();
        var name = new Argument<string>("name") { Description = "User name" };
        var role = new Option<string>("--role") { Description = "viewer, operator or admin", Required = true };
        var command = new Command("set-role", "Change a user's role; their open sessions get the new role at their next request") { name, role };
        control.AddTo(command);
        command.SetAction(async (pr, ct) =>
        {
            using var client = new ControlClient(control.Resolve(pr));
            var user = await client.SetUserRoleAsync(pr.GetValue(name)!, pr.GetValue(role)!, ct);
            Console.WriteLine($"{user.Name} is now {user.Role}");
            return 0;
        });
        return command;
    }
}
