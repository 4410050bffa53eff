namespace Cohort.Cli;

/// <summary>A user-facing failure: printed as one line, exit code 1.</summary>
internal class CliException(string message) : Exception(message);

/// <summary>The server could not be reached (down, restarting, a network outage): a command that waits may try again.</summary>
internal sealed class ServerUnreachableException(string message) : CliException(message);
