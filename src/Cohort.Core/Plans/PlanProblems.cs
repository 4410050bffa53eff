namespace Cohort.Plans;

/// <summary>
/// The problems found while reading one plan. The parser reads each top-level value and each section on its own,
/// so a problem in one does not hide those in the others; within a section reading stops at its first bad value
/// (later checks there may depend on it), but every unknown key is recorded and reading goes on past it.
/// </summary>
internal sealed class PlanProblems
{
    private readonly List<PlanException> _found = [];
    private readonly HashSet<(long, long, string)> _seen = [];

    /// <summary>True when a problem was recorded.</summary>
    public bool Any => _found.Count > 0;

    /// <summary>Records <paramref name="error"/> and every problem it carries, once each (a section read twice reports its keys once).</summary>
    public void Add(PlanException error)
    {
        foreach (var e in error.Errors)
        {
            if (_seen.Add((e.Line, e.Column, e.Problem))) _found.Add(e);
        }
    }

    /// <summary>The value <paramref name="read"/> returns, or <paramref name="fallback"/> after recording the problem it threw.</summary>
    public T Read<T>(Func<T> read, T fallback)
    {
        try
        {
            return read();
        }
        catch (PlanException e)
        {
            Add(e);
            return fallback;
        }
    }

    /// <summary>Throws one <see cref="PlanException"/> for every problem recorded (its message the first one's), if any.</summary>
    public void ThrowIfAny()
    {
        if (_found.Count > 0) throw PlanException.Of(_found);
    }
}
