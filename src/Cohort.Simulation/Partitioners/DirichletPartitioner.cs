using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>
/// Label skew by a Dirichlet distribution (Hsu et al. 2019): for each class, the clients' shares are
/// drawn from Dir(α, …, α) and the class's examples cut accordingly. Small α gives each client few
/// classes; large α approaches iid. With <c>min_size</c>, draws repeat until every client holds that many.
/// </summary>
internal sealed class DirichletPartitioner(double alpha, int minSize) : IPartitioner
{
    /// <summary>The plan name.</summary>
    public const string PartitionerName = "dirichlet";

    private const int MaxAttempts = 1000;

    /// <summary>Creates it from plan parameters: <c>alpha</c> (required, &gt; 0), <c>min_size</c> (default 0).</summary>
    public static IPartitioner Create(PartitionerParameters p)
    {
        p.RejectUnknown(["alpha", "min_size"]);
        return new DirichletPartitioner(p.RequiredNumber("alpha", a => a > 0, "the concentration, a number > 0; e.g. 0.5"), p.Int("min_size", 0, 0));
    }

    /// <inheritdoc />
    public string Name => PartitionerName;

    /// <summary>The concentration α.</summary>
    public double Alpha => alpha;

    /// <inheritdoc />
    public PartitionSet Split(ISimulationDataset data, int clients, Random random)
    {
        var byClass = Partitioning.ByClass(data, Name);
        if ((long)minSize * clients > data.Count)
            throw new PartitionerException("min_size", $"partitioner 'dirichlet' parameter 'min_size': {minSize} × {clients} clients is more than the {data.Count} examples");
        var shares = new double[clients];
        for (int attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var lists = new List<int>[clients];
            for (int c = 0; c < clients; c++) lists[c] = [];
            foreach (var members in byClass)
            {
                double sum = 0;
                for (int c = 0; c < clients; c++) sum += shares[c] = Partitioning.Gamma(alpha, random);
                if (sum <= 0) shares.AsSpan().Fill(1);
                var order = members.ToArray();
                random.Shuffle(order);
                var sizes = Partitioning.Apportion(order.Length, shares, 0);
                int at = 0;
                for (int c = 0; c < clients; c++)
                {
                    lists[c].AddRange(new ArraySegment<int>(order, at, sizes[c]));
                    at += sizes[c];
                }
            }
            bool big = true;
            foreach (var l in lists) big &= l.Count >= minSize;
            if (big) return PartitionSet.FromLists(lists);
        }
        throw new PartitionerException("min_size",
            $"partitioner 'dirichlet' parameter 'min_size': no draw in {MaxAttempts} gave every one of {clients} clients {minSize} examples; lower min_size or raise alpha");
    }
}
