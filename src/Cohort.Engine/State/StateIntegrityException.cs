namespace Cohort.Engine.State;

/// <summary>The server's state cannot be trusted (damaged, empty beside existing models, or newer than this binary); the message says what and the way out.</summary>
internal sealed class StateIntegrityException(string message, Exception? inner = null) : Exception(message, inner);
