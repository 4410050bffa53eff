using System.Globalization;
using Cohort.Apps;
using Cohort.Parameters;
using Cohort.Records;

namespace CohortApp;

/// <summary>
/// A logistic model trained on this site's CSV file (numeric feature columns, then a 0/1 label), which never
/// leaves this process: only the weights travel to the server.
/// </summary>
public sealed class LogisticApp : IClientApp
{
    private readonly float[][] _x;
    private readonly float[] _y;

    private LogisticApp(float[][] x, float[] y)
    {
        _x = x;
        _y = y;
    }

    private int Features => _x[0].Length;

    /// <summary>Reads a CSV file with a header row; the last column is the label.</summary>
    public static LogisticApp FromCsv(string path)
    {
        string[] lines = File.ReadAllLines(path);
        var x = new List<float[]>();
        var y = new List<float>();
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            string[] cells = lines[i].Split(',');
            if (!float.TryParse(cells[^1], CultureInfo.InvariantCulture, out float label) || (label != 0 && label != 1))
                throw new FormatException($"{path}:{i + 1}: the label (last column) must be 0 or 1, not '{cells[^1]}'");
            var row = new float[cells.Length - 1];
            for (int j = 0; j < row.Length; j++)
            {
                if (!float.TryParse(cells[j], CultureInfo.InvariantCulture, out row[j]))
                    throw new FormatException($"{path}:{i + 1}: column {j + 1} is not a number: '{cells[j]}'");
            }
            if (x.Count > 0 && row.Length != x[0].Length)
                throw new FormatException($"{path}:{i + 1}: {row.Length + 1} columns, the first row has {x[0].Length + 1}");
            x.Add(row);
            y.Add(label);
        }
        if (x.Count == 0) throw new FormatException($"{path}: no data rows");
        return new LogisticApp([.. x], [.. y]);
    }

    /// <inheritdoc />
    public Task<ParameterSet> GetParametersAsync(Config config, CancellationToken ct) =>
        Task.FromResult(Weights(new float[Features], 0));

    /// <inheritdoc />
    public Task<FitResult> FitAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        float[] w = parameters["w"].AsFloat32().ToArray();
        float b = parameters["b"].AsFloat32()[0];
        double rate = config.GetDouble("learning_rate", 0.1);
        long steps = config.GetInt("local_steps", 20);
        var gw = new double[w.Length];
        for (long step = 0; step < steps; step++)
        {
            // Full-batch gradient of the mean log loss.
            Array.Clear(gw);
            double gb = 0;
            for (int i = 0; i < _x.Length; i++)
            {
                double error = Predict(w, b, _x[i]) - _y[i];
                for (int j = 0; j < w.Length; j++) gw[j] += error * _x[i][j];
                gb += error;
            }
            for (int j = 0; j < w.Length; j++) w[j] -= (float)(rate * gw[j] / _x.Length);
            b -= (float)(rate * gb / _x.Length);
        }
        var (loss, _) = Score(w, b);
        return Task.FromResult(new FitResult(Weights(w, b), _x.Length, new Metrics([new("train_loss", loss)])));
    }

    /// <inheritdoc />
    public Task<EvaluateResult> EvaluateAsync(ParameterSet parameters, Config config, CancellationToken ct)
    {
        var (loss, accuracy) = Score(parameters["w"].AsFloat32().ToArray(), parameters["b"].AsFloat32()[0]);
        return Task.FromResult(new EvaluateResult(loss, _x.Length, new Metrics([new("accuracy", accuracy)])));
    }

    private (double Loss, double Accuracy) Score(float[] w, float b)
    {
        double loss = 0;
        int correct = 0;
        for (int i = 0; i < _x.Length; i++)
        {
            double p = Math.Clamp(Predict(w, b, _x[i]), 1e-7, 1 - 1e-7);
            loss -= _y[i] == 1 ? Math.Log(p) : Math.Log(1 - p);
            if ((p >= 0.5) == (_y[i] == 1)) correct++;
        }
        return (loss / _x.Length, (double)correct / _x.Length);
    }

    private static double Predict(float[] w, float b, float[] x)
    {
        double z = b;
        for (int j = 0; j < w.Length; j++) z += w[j] * x[j];
        return 1 / (1 + Math.Exp(-z));
    }

    private static ParameterSet Weights(float[] w, float b) =>
        new([Tensor.FromFloat32("w", [w.Length], w), Tensor.FromFloat32("b", [1], [b])]);
}
