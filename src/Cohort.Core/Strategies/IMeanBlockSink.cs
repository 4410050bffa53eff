using System.Numerics;

namespace Cohort.Strategies;

/// <summary>
/// Takes the round's mean a block at a time as it is read out of the accumulator
/// (<see cref="ReproducibleSum.ReadOutInto"/>), so that a server step can be applied to the global model
/// in place without the mean ever being a whole model.
/// </summary>
internal interface IMeanBlockSink
{
    /// <summary>Values <paramref name="start"/>.. of float tensor <paramref name="tensor"/>; the buffer is scratch and may be overwritten.</summary>
    void Block<T>(int tensor, int start, Span<T> mean) where T : unmanaged, IFloatingPointIeee754<T>, IRootFunctions<T>;

    /// <summary>Called once every block has been taken, so that a step that keeps its state on disk writes the last of it out.</summary>
    void Finish()
    {
    }
}
