using System.Numerics.Tensors;
using Cohort.Parameters;

namespace Cohort.Privacy;

/// <summary>The size of a model update, which differential privacy clips: on a node (local) and on the server (central).</summary>
internal static class ModelUpdate
{
    /// <summary>L2 norm of (model − global) over all float tensors.</summary>
    public static double Norm(ParameterSet model, ParameterSet global)
    {
        double sum = 0;
        for (int i = 0; i < global.Count; i++)
        {
            if (global[i].DType != DType.Float32) continue;
            var a = model[i].AsFloat32();
            var g = global[i].AsFloat32();
            double d = TensorPrimitives.Distance<float>(a, g);
            sum += d * d;
        }
        return Math.Sqrt(sum);
    }
}
