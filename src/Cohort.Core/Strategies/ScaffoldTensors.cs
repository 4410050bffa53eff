using Cohort.Parameters;

namespace Cohort.Strategies;

/// <summary>
/// How SCAFFOLD's control variates travel beside the model: a fit task carries the model's tensors
/// followed by the server control variate c as <c>scaffold/c/NAME</c>; a fit result carries the
/// trained model followed by the node's control-variate change Δcᵢ as <c>scaffold/dc/NAME</c>, one per
/// float tensor of the model. Client apps use these helpers to take part.
/// </summary>
public static class ScaffoldTensors
{
    /// <summary>Prefix of the server control variate's tensors in a fit task.</summary>
    public const string ServerControlPrefix = "scaffold/c/";

    /// <summary>Prefix of the control-variate change's tensors in a fit result.</summary>
    public const string ControlDeltaPrefix = "scaffold/dc/";

    /// <summary>True when the task's parameters carry a server control variate.</summary>
    public static bool IsScaffoldTask(ParameterSet parameters) =>
        parameters.Count > 0 && parameters[^1].Name.StartsWith(ServerControlPrefix, StringComparison.Ordinal);

    /// <summary>Splits a task's parameters into the model and the server control variate (same names as the model's tensors).</summary>
    public static (ParameterSet Model, ParameterSet Control) Split(ParameterSet parameters)
    {
        var model = new List<Tensor>();
        var control = new List<Tensor>();
        foreach (var t in parameters)
        {
            if (t.Name.StartsWith(ServerControlPrefix, StringComparison.Ordinal))
                control.Add(new Tensor(t.Name[ServerControlPrefix.Length..], t.DType, t.Shape, t.Data));
            else model.Add(t);
        }
        return (new ParameterSet(model), new ParameterSet(control));
    }

    /// <summary>The model's float tensors renamed with <paramref name="prefix"/> (shares data; callers copy when needed).</summary>
    public static IEnumerable<Tensor> Prefixed(ParameterSet set, string prefix)
    {
        foreach (var t in set)
            if (ParameterMath.IsFloat(t.DType)) yield return new Tensor(prefix + t.Name, t.DType, t.Shape, t.Data);
    }

    /// <summary>A result: the trained model followed by Δc (named after the model's tensors).</summary>
    public static ParameterSet Result(ParameterSet model, ParameterSet controlDelta) =>
        new(model.Concat(Prefixed(controlDelta, ControlDeltaPrefix)));
}
