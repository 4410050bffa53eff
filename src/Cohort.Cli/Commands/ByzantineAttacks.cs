using System.Numerics.Tensors;

namespace Cohort.Cli.Commands;

/// <summary>
/// Model-poisoning attacks crafted from the honest updates Δᵢ = yᵢ − x of a round (full knowledge: the
/// colluding attackers see every honest update, the strongest setting of the papers); all attackers
/// send the same crafted update.
/// </summary>
internal static class ByzantineAttacks
{
    /// <summary>Attack names, in table order ("none" is the clean run: every client honest).</summary>
    public static readonly string[] Names = ["none", "large-norm", "alie", "ipm", "min-max", "min-sum"];

    /// <summary>Inner-product manipulation's ε (Xie et al. 2020 use small ε against median and Krum).</summary>
    public const double IpmEpsilon = 0.5;

    /// <summary>The boost of the large-norm attack: −10 × the honest mean.</summary>
    public const double LargeNormBoost = 10;

    /// <summary>
    /// The malicious update for <paramref name="attack"/> from the honest updates, with <paramref name="clients"/>
    /// clients in all of which <paramref name="attackers"/> collude.
    /// </summary>
    public static float[] Craft(string attack, IReadOnlyList<float[]> honest, int clients, int attackers)
    {
        int d = honest[0].Length;
        var mean = new float[d];
        var std = new float[d];
        foreach (var u in honest) TensorPrimitives.Add(mean, u, mean);
        TensorPrimitives.Multiply(mean, 1f / honest.Count, mean);
        var diff = new float[d];
        foreach (var u in honest)
        {
            TensorPrimitives.Subtract(u, mean, diff);
            TensorPrimitives.MultiplyAdd(diff, diff, std, std);
        }
        TensorPrimitives.Multiply(std, 1f / Math.Max(1, honest.Count - 1), std);
        TensorPrimitives.Sqrt(std, std);
        var m = new float[d];
        switch (attack)
        {
            case "large-norm":
                TensorPrimitives.Multiply(mean, (float)-LargeNormBoost, m);
                return m;
            case "alie":
                // Baruch et al. 2019: stay within z standard deviations of the mean, z chosen so that the
                // attackers plus the honest clients nearest them form a majority: s = ⌊n/2 + 1⌋ − f, z = Φ⁻¹((n − s)/n).
                int s = (clients / 2) + 1 - attackers;
                double z = InverseNormal((clients - s) / (double)clients);
                TensorPrimitives.MultiplyAdd(std, (float)-z, mean, m);
                return m;
            case "ipm":
                TensorPrimitives.Multiply(mean, (float)-IpmEpsilon, m);
                return m;
            case "min-max":
            case "min-sum":
                return MinMaxOrSum(attack == "min-max", honest, mean, std);
            default:
                throw new ArgumentException($"unknown attack '{attack}'; known: {string.Join(", ", Names)}", nameof(attack));
        }
    }

    /// <summary>
    /// Shejwalkar and Houmansadr 2021 (AGR-agnostic): m = μ − γ·σ with the largest γ for which m's largest
    /// distance (min-max) or sum of squared distances (min-sum) to the honest updates does not exceed the
    /// largest such figure of an honest update; γ found by bisection.
    /// </summary>
    private static float[] MinMaxOrSum(bool max, IReadOnlyList<float[]> honest, float[] mean, float[] std)
    {
        double bound = 0;
        foreach (var a in honest)
            bound = Math.Max(bound, Spread(max, a, honest));
        var m = new float[mean.Length];
        double lo = 0, hi = 1000;
        for (int i = 0; i < 60; i++)
        {
            double gamma = (lo + hi) / 2;
            TensorPrimitives.MultiplyAdd(std, (float)-gamma, mean, m);
            if (Spread(max, m, honest) <= bound) lo = gamma;
            else hi = gamma;
        }
        TensorPrimitives.MultiplyAdd(std, (float)-lo, mean, m);
        return m;
    }

    private static double Spread(bool max, float[] a, IReadOnlyList<float[]> honest)
    {
        double result = 0;
        foreach (var b in honest)
        {
            double d2 = TensorPrimitives.Distance(a, b);
            d2 *= d2;
            result = max ? Math.Max(result, d2) : result + d2;
        }
        return result;
    }

    /// <summary>Φ⁻¹(p) by bisection on the error function (p in (0, 1)).</summary>
    public static double InverseNormal(double p)
    {
        double lo = -10, hi = 10;
        for (int i = 0; i < 100; i++)
        {
            double mid = (lo + hi) / 2;
            if (NormalCdf(mid) < p) lo = mid;
            else hi = mid;
        }
        return (lo + hi) / 2;
    }

    // Abramowitz–Stegun 7.1.26 erf, accurate to ~1e-7: ample for choosing z.
    private static double NormalCdf(double x)
    {
        double t = x / Math.Sqrt(2);
        double sign = Math.Sign(t);
        t = Math.Abs(t);
        double k = 1 / (1 + (0.3275911 * t));
        double erf = 1 - ((((((1.061405429 * k) - 1.453152027) * k) + 1.421413741) * k - 0.284496736) * k + 0.254829592) * k * Math.Exp(-t * t);
        return 0.5 * (1 + (sign * erf));
    }
}
