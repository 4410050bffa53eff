using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// Quantity skew with iid labels: client sizes grow linearly or exponentially from the smallest to the
/// largest, which holds <c>ratio</c> times as many examples (at least one each).
/// </summary>
internal sealed class SizeSkewedPartitioner(string distribution, double ratio) : IPartitioner
{
    /// <summary>The plan name.</summary>
    public const string PartitionerName = "size-skewed";

    /// <summary>Allowed distributions.</summary>
    public static readonly string[] Distributions = ["linear", "exponential"];

    /// <summary>Creates it from plan parameters: <c>distribution</c> linear|exponential (linear), <c>ratio</c> (10, &gt;= 1).</summary>
    public static IPartitioner Create(PartitionerParameters p)
    {
        p.RejectUnknown(["distribution", "ratio"]);
        return new SizeSkewedPartitioner(p.Choice("distribution", Distributions, "linear"), p.Number("ratio", 10, r => r >= 1, "largest ÷ smallest client, a number >= 1"));
    }

    /// <inheritdoc />
    public string Name => PartitionerName;

    /// <summary>Relative size of each client, smallest first.</summary>
    public double[] Weights(int clients)
    {
        var w = new double[clients];
        for (int c = 0; c < clients; c++)
        {
            double t = clients == 1 ? 0 : (double)c / (clients - 1);
            w[c] = distribution == "linear" ? 1 + (ratio - 1) * t : Math.Pow(ratio, t);
        }
        return w;
    }

    /// <inheritdoc />
    public PartitionSet Split(ISimulationDataset data, int clients, Random random)
    {
        if (data.Count < clients)
            throw new PartitionerException(null, $"partitioner 'size-skewed': {data.Count} examples cannot give each of {clients} clients at least one");
        var order = Partitioning.Shuffled(data.Count, random);
        return PartitionSet.FromSizes(order, Partitioning.Apportion(data.Count, Weights(clients), 1));
    }
}
