namespace Cohort.Engine.Runs;

/// <summary>A run cannot go on; the message is the reason stored with the run.</summary>
internal sealed class RunFailedException(string message) : Exception(message);
