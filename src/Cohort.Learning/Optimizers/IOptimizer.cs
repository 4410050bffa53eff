namespace Cohort.Learning.Optimizers;

/// <summary>Updates a flat parameter buffer from its gradient; holds per-parameter state between steps.</summary>
public interface IOptimizer
{
    /// <summary>Name used in plans ("sgd", "adam").</summary>
    string Name { get; }

    /// <summary>Applies one update to <paramref name="weights"/> in place.</summary>
    void Step(Span<float> weights, ReadOnlySpan<float> gradients);
}
