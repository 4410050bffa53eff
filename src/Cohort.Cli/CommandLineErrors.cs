using System.CommandLine;
using System.Text.RegularExpressions;

namespace Cohort.Cli;

/// <summary>
/// What the command line parser found wrong (an unknown option, a value of the wrong type, a missing argument), told as
/// <c>cohort: …</c> lines in the words of the rest of the CLI, with the command whose help lists what is allowed.
/// </summary>
internal static partial class CommandLineErrors
{
    /// <summary>Writes each error and the help hint to standard error; returns the exit code (1).</summary>
    public static int Report(ParseResult parsed)
    {
        foreach (var error in parsed.Errors) Console.Error.WriteLine($"cohort: {Plain(error.Message)}");
        var names = new List<string>();
        for (var result = parsed.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, result.Command is RootCommand ? "cohort" : result.Command.Name);
        Console.Error.WriteLine($"cohort: see `{string.Join(' ', names)} --help` for what it takes");
        return 1;
    }

    // "… as expected type 'System.Int32'." reads "… as a whole number."
    internal static string Plain(string message) => ExpectedType().Replace(message, m => "as " + TypeName(m.Groups[1].Value));

    private static string TypeName(string type) => type switch
    {
        _ when type.Contains("Int32", StringComparison.Ordinal) || type.Contains("Int64", StringComparison.Ordinal) => "a whole number",
        _ when type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) => "a number",
        _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false",
        _ when type.Contains("TimeSpan", StringComparison.Ordinal) => "a duration",
        _ => "the kind of value it takes",
    };

    [GeneratedRegex(@"as expected type '([^']+)'")]
    private static partial Regex ExpectedType();
}
