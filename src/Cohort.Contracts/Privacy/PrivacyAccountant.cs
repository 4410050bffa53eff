namespace Cohort.Privacy;

/// <summary>
/// Privacy spent by repeated Gaussian mechanisms, through Rényi differential privacy (Mironov 2017):
/// T releases with noise multiplier σ cost ε_RDP(α) = T·α/(2σ²), converted to (ε, δ) as
/// ε = min over α of ε_RDP(α) + ln(1/δ)/(α − 1). No amplification by client sampling is claimed, so
/// the figure is an upper bound.
/// </summary>
public static class PrivacyAccountant
{
    /// <summary>The ε spent after <paramref name="releases"/> rounds at noise multiplier <paramref name="noiseMultiplier"/>, for <paramref name="delta"/>.</summary>
    public static double Epsilon(int releases, double noiseMultiplier, double delta)
    {
        if (noiseMultiplier <= 0) return double.PositiveInfinity;
        if (releases <= 0) return 0;
        double best = double.PositiveInfinity;
        for (double alpha = 1.01; alpha <= 512; alpha *= 1.02)
        {
            double epsilon = releases * alpha / (2 * noiseMultiplier * noiseMultiplier) + Math.Log(1 / delta) / (alpha - 1);
            best = Math.Min(best, epsilon);
        }
        return best;
    }
}
