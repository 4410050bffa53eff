namespace Cohort.Engine.State;

/// <summary>Whether a node is connected; stored and shown as the text <see cref="StatusText"/> gives.</summary>
internal enum NodeStatus
{
    /// <summary>Holds a token but never registered.</summary>
    Unknown,

    /// <summary>Connected and idle.</summary>
    Online,

    /// <summary>Connected and working on a task.</summary>
    Busy,

    /// <summary>No heartbeat within the node timeout.</summary>
    Offline,
}
