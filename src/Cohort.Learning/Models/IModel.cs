using Cohort.Parameters;

namespace Cohort.Learning.Models;

/// <summary>
/// A binary classifier over dense float32 features whose parameters live in one flat buffer
/// (<see cref="Weights"/>) with a matching gradient buffer. Instances keep scratch buffers and are
/// not thread-safe; create one per concurrent task.
/// </summary>
public interface IModel
{
    /// <summary>Short description for messages, e.g. "logistic(13)" or "mlp(13-32-16-1)".</summary>
    string Description { get; }

    /// <summary>Number of input features.</summary>
    int InputSize { get; }

    /// <summary>Names and shapes of the parameters in <see cref="Weights"/>.</summary>
    ParameterLayout Layout { get; }

    /// <summary>All parameters, laid out by <see cref="Layout"/>.</summary>
    Span<float> Weights { get; }

    /// <summary>Gradients of the last <c>ComputeGradients</c>, laid out like <see cref="Weights"/>.</summary>
    Span<float> Gradients { get; }

    /// <summary>Sets the initial parameters; deterministic for a given seed.</summary>
    void Initialize(int seed);

    /// <summary>A copy of the parameters as a <see cref="ParameterSet"/>.</summary>
    ParameterSet GetParameters();

    /// <summary>Loads parameters; throws naming the tensor when names or shapes do not fit.</summary>
    void SetParameters(ParameterSet parameters);

    /// <summary>Writes the logit of each row of <paramref name="features"/> ([rows, InputSize]) into <paramref name="logits"/> ([rows]).</summary>
    void Forward(ReadOnlySpan<float> features, Span<float> logits);

    /// <summary>
    /// Mean binary cross-entropy of a batch ([rows, InputSize] features, [rows] 0/1 labels); overwrites
    /// <see cref="Gradients"/> with its gradient and returns the loss.
    /// </summary>
    float ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<float> labels);

    /// <summary>Like <see cref="ComputeGradients(ReadOnlySpan{float}, ReadOnlySpan{float})"/> with another training loss (class weights, focal term).</summary>
    float ComputeGradients(ReadOnlySpan<float> features, ReadOnlySpan<float> labels, BinaryLoss loss);
}
