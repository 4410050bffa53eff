namespace Cohort.Cli.Charts;

/// <summary>A PNG line chart of test accuracy per round, one line per series (federated vs single site).</summary>
internal static class AccuracyChart
{
    /// <summary>One line: its legend and (round, accuracy) points.</summary>
    public sealed record Series(string Legend, IReadOnlyList<(int Round, double Accuracy)> Points);

    /// <summary>Draws the series into <paramref name="path"/> (PNG, 900×520).</summary>
    public static void Write(string path, string title, string yLabel, IReadOnlyList<Series> series)
    {
        var plot = new ScottPlot.Plot();
        plot.Font.Set("DejaVu Sans");
        foreach (var s in series)
        {
            var line = plot.Add.Scatter(s.Points.Select(p => (double)p.Round).ToArray(), s.Points.Select(p => p.Accuracy).ToArray());
            line.LegendText = s.Legend;
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        plot.Title(title);
        plot.XLabel("round");
        plot.YLabel(yLabel);
        int rounds = series.Count == 0 ? 1 : series.Max(s => s.Points.Count == 0 ? 1 : s.Points.Max(p => p.Round));
        // Zoom to where the lines are (accuracies near 1 would otherwise sit in a thin band at the top).
        double low = series.SelectMany(s => s.Points).Select(p => p.Accuracy).Where(double.IsFinite).DefaultIfEmpty(0).Min();
        plot.Axes.SetLimits(0.5, rounds + 0.5, Math.Max(0, Math.Floor((low - 0.03) * 20) / 20), 1);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericFixedInterval(Math.Max(1, Math.Ceiling(rounds / 20.0)));
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        plot.SavePng(path, 900, 520);
    }
}
