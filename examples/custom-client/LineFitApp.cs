using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace CustomClient;

/// <summary>
/// A client app written against Cohort's public contract only: fits y = w·x + b on data that never
/// leaves this process. Each site holds its own points, from its own range of x.
/// </summary>
public sealed class LineFitApp : IClientApp
{
    private readonly float[] _x;
    private readonly float[] _y;

    /// <summary>Makes this site's private data: 200 noisy points of y = 3x + 2 with x in [offset, offset + 1).</summary>
    public LineFitApp(int seed, double offset)
    {
        var random = new Random(seed);
        _x = new float[200];
        _y = new float[200];
        for (int i = 0; i < _x.Length; i++)
        {
            _x[i] = (float)(offset + random.NextDouble());
            _y[i] = 3 * _x[i] + 2 + (float)(random.NextDouble() - 0.5) * 0.2f;
        }
    }

    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
        Task.FromResult(Line(0, 0));

    /// <inheritdoc />
    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        float w = parameters["w"].AsFloat32()[0], b = parameters["b"].AsFloat32()[0];
        double rate = config.GetDouble("learning_rate", 0.05);
        long steps = config.GetInt("local_steps", 20);
        for (long step = 0; step < steps; step++)
        {
            // Full-batch gradient of the mean squared error.
            double gw = 0, gb = 0;
            for (int i = 0; i < _x.Length; i++)
            {
                double error = w * _x[i] + b - _y[i];
                gw += 2 * error * _x[i];
                gb += 2 * error;
            }
            w -= (float)(rate * gw / _x.Length);
            b -= (float)(rate * gb / _x.Length);
        }
        return Task.FromResult(new FitResult(Line(w, b), _x.Length, new Metrics([new("train_mse", Mse(w, b))])));
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        float w = parameters["w"].AsFloat32()[0], b = parameters["b"].AsFloat32()[0];
        double mse = Mse(w, b);
        return Task.FromResult(new EvaluateResult(mse, _x.Length, new Metrics([new("mse", mse), new("w", (double)w), new("b", (double)b)])));
    }

    private double Mse(float w, float b)
    {
        double sum = 0;
        for (int i = 0; i < _x.Length; i++)
        {
            double error = w * _x[i] + b - _y[i];
            sum += error * error;
        }
        return sum / _x.Length;
    }

    private static ParameterSet Line(float w, float b) => new([Tensor.FromFloat32("w", [1], [w]), Tensor.FromFloat32("b", [1], [b])]);
}
