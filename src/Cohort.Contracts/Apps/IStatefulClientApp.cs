namespace Cohort.Apps;

/// <summary>
/// A client app that keeps state of its own from one fit to the next (SCAFFOLD's local control variate). A node keeps
/// its app for the whole run; a simulation creates a virtual client's app for each task, and carries the state from the
/// client's last fit into its next app through these two calls.
/// </summary>
internal interface IStatefulClientApp
{
    /// <summary>The state to carry to this client's next app; null when there is none. The app must not change it afterwards.</summary>
    object? SaveState();

    /// <summary>Takes up the state an earlier app of this client saved, before any task runs.</summary>
    void RestoreState(object state);
}
