using Cohort.Apps;

namespace Cohort.Simulation.Partitioners;

/// <summary>Shared steps of the built-in partitioners.</summary>
internal static class Partitioning
{
    /// <summary>0 … n−1 in a seeded random order.</summary>
    public static int[] Shuffled(int n, Random random)
    {
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        random.Shuffle(order);
        return order;
    }

    /// <summary>The example indices of each class, ascending; throws when the data set has no labels.</summary>
    public static List<int>[] ByClass(ISimulationDataset data, string partitioner)
    {
        if (data.ClassCount <= 0 || data.Labels.Length != data.Count)
            throw new PartitionerException(null, $"partitioner '{partitioner}' needs class labels, and {data.Description} has none (use iid or size-skewed)");
        var byClass = new List<int>[data.ClassCount];
        for (int k = 0; k < byClass.Length; k++) byClass[k] = [];
        var labels = data.Labels;
        for (int i = 0; i < labels.Length; i++) byClass[labels[i]].Add(i);
        return byClass;
    }

    /// <summary>Splits <paramref name="total"/> into integer parts proportional to <paramref name="weights"/> (largest remainder), each at least <paramref name="minimum"/>.</summary>
    public static int[] Apportion(int total, ReadOnlySpan<double> weights, int minimum)
    {
        int n = weights.Length;
        var sizes = new int[n];
        int rest = total - minimum * n;
        if (rest < 0) throw new ArgumentException($"{total} examples cannot give {n} clients {minimum} each");
        double sum = 0;
        foreach (double w in weights) sum += w;
        var remainders = new (double Fraction, int Client)[n];
        int given = 0;
        for (int c = 0; c < n; c++)
        {
            double exact = rest * weights[c] / sum;
            int whole = (int)Math.Floor(exact);
            sizes[c] = minimum + whole;
            given += whole;
            remainders[c] = (exact - whole, c);
        }
        // Ties broken by client number so the split never depends on sort stability.
        Array.Sort(remainders, (a, b) => a.Fraction != b.Fraction ? b.Fraction.CompareTo(a.Fraction) : a.Client.CompareTo(b.Client));
        for (int i = 0; i < rest - given; i++) sizes[remainders[i].Client]++;
        return sizes;
    }

    /// <summary>A Gamma(shape, 1) draw (Marsaglia and Tsang 2000; shape &lt; 1 by the boost Gamma(a) = Gamma(a+1)·U^(1/a)).</summary>
    public static double Gamma(double shape, Random random)
    {
        if (shape < 1)
        {
            double u = random.NextDouble();
            return Gamma(shape + 1, random) * Math.Pow(u, 1 / shape);
        }
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(random);
                v = 1 + c * x;
            }
            while (v <= 0);
            v = v * v * v;
            double u = random.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    private static double Normal(Random random)
    {
        double u1 = 1 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
