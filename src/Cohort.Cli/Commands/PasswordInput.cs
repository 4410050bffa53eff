using System.Text;

namespace Cohort.Cli.Commands;

/// <summary>Reads a password from a file or standard input, never from the command line (argv is visible to every local user).</summary>
internal static class PasswordInput
{
    /// <summary>
    /// The password in <paramref name="file"/> (its first line), else piped standard input (its first line), else
    /// typed at the terminal without echo (twice when <paramref name="confirm"/>).
    /// </summary>
    public static string Read(string? file, string prompt, bool confirm)
    {
        if (file is not null)
        {
            if (!File.Exists(file)) throw new CliException($"--password-file {file} not found");
            return FirstLine(File.ReadAllText(file), $"--password-file {file}");
        }
        if (Console.IsInputRedirected) return FirstLine(Console.In.ReadToEnd(), "standard input");
        string first = Prompt(prompt);
        if (confirm && Prompt("again: ") != first) throw new CliException("the two passwords differ");
        return first;
    }

    private static string FirstLine(string text, string source)
    {
        string line = text.Split('\n')[0].TrimEnd('\r');
        if (line.Length == 0) throw new CliException($"no password in {source} (its first line is empty)");
        return line;
    }

    private static string Prompt(string prompt)
    {
        Console.Error.Write(prompt);
        var sb = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (sb.Length > 0) sb.Length--;
                continue;
            }
            if (!char.IsControl(key.KeyChar)) sb.Append(key.KeyChar);
        }
        Console.Error.WriteLine();
        return sb.ToString();
    }
}
