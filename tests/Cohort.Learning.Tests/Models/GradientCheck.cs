using Cohort.Learning.Models;

namespace Cohort.Learning.Tests.Models;

/// <summary>Compares a model's analytic gradient with central finite differences of its loss.</summary>
internal static class GradientCheck
{
    public static void VerifyAgainstFiniteDifferences(IModel model, float[] x, float[] y, float epsilon = 1e-2f, double tolerance = 2e-3)
    {
        model.ComputeGradients(x, y);
        var analytic = model.Gradients.ToArray();
        for (int i = 0; i < analytic.Length; i++)
        {
            float saved = model.Weights[i];
            model.Weights[i] = saved + epsilon;
            double plus = model.ComputeGradients(x, y);
            model.Weights[i] = saved - epsilon;
            double minus = model.ComputeGradients(x, y);
            model.Weights[i] = saved;
            double numeric = (plus - minus) / (2 * epsilon);
            Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance + 1e-2 * Math.Abs(numeric),
                $"{model.Description} parameter {i}: analytic {analytic[i]}, finite difference {numeric}");
        }
    }

    public static (float[] X, float[] Y) RandomBatch(int rows, int features, int seed)
    {
        var rng = new Random(seed);
        var x = new float[rows * features];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var y = new float[rows];
        for (int i = 0; i < rows; i++) y[i] = rng.Next(2);
        return (x, y);
    }
}
