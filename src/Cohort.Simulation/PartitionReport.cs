using System.Globalization;
using System.Text;
using Cohort.Apps;
using Cohort.Simulation.Partitioners;

namespace Cohort.Simulation;

/// <summary>Text renderings of a partition set: sizes and per-client label histograms.</summary>
internal static class PartitionReport
{
    /// <summary>Label counts of one client: <c>counts[k]</c> examples of class k.</summary>
    public static int[] LabelCounts(PartitionSet partitions, ISimulationDataset data, int client)
    {
        var counts = new int[Math.Max(0, data.ClassCount)];
        if (counts.Length == 0) return counts;
        var labels = data.Labels;
        foreach (int i in partitions.Of(client).Span) counts[labels[i]]++;
        return counts;
    }

    /// <summary>One line on the sizes: clients, smallest, median, largest, total, overlap.</summary>
    public static string Summary(PartitionSet partitions, ISimulationDataset data)
    {
        var sizes = new int[partitions.Clients];
        for (int c = 0; c < sizes.Length; c++) sizes[c] = partitions.SizeOf(c);
        Array.Sort(sizes);
        return string.Create(CultureInfo.InvariantCulture,
            $"{partitions.Clients} clients over {data.Count:N0} examples ({data.Description}): sizes min {sizes[0]}, median {sizes[sizes.Length / 2]}, max {sizes[^1]}; {partitions.TotalIndices:N0} indices ({100.0 * partitions.TotalIndices / Math.Max(1, data.Count):0.#}% of the data)");
    }

    /// <summary>
    /// A label histogram table, one row per client (the first and last <paramref name="maxRows"/>/2
    /// when there are more clients): size, then each class's count.
    /// </summary>
    public static string Histogram(PartitionSet partitions, ISimulationDataset data, IReadOnlyList<string> names, int maxRows = 40)
    {
        var sb = new StringBuilder();
        int classes = Math.Max(0, data.ClassCount);
        int nameWidth = Math.Max(6, names.Take(maxRows).Max(n => n.Length));
        sb.Append("client".PadRight(nameWidth)).Append("    size");
        for (int k = 0; k < classes; k++) sb.Append(CultureInfo.InvariantCulture, $" {k,6}");
        sb.AppendLine();
        var rows = partitions.Clients <= maxRows
            ? Enumerable.Range(0, partitions.Clients)
            : Enumerable.Range(0, maxRows / 2).Concat(Enumerable.Range(partitions.Clients - maxRows / 2, maxRows / 2));
        int previous = -1;
        foreach (int c in rows)
        {
            if (previous >= 0 && c != previous + 1) sb.AppendLine(CultureInfo.InvariantCulture, $"… {c - previous - 1} more clients …");
            previous = c;
            sb.Append(names[c].PadRight(nameWidth)).Append(CultureInfo.InvariantCulture, $" {partitions.SizeOf(c),7}");
            foreach (int n in LabelCounts(partitions, data, c)) sb.Append(CultureInfo.InvariantCulture, $" {n,6}");
            sb.AppendLine();
        }
        return sb.ToString();
    }
}
