namespace Cohort.Simulation.Partitioners;

/// <summary>Creates a partitioner from its plan parameters; unknown or wrong parameters throw <see cref="PartitionerException"/>.</summary>
public delegate IPartitioner PartitionerFactory(PartitionerParameters parameters);

/// <summary>Partitioners by name: the built-ins plus any user code registers.</summary>
public sealed class PartitionerRegistry
{
    private readonly Dictionary<string, PartitionerFactory> _factories = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A registry of the built-ins: iid, dirichlet, shards, classes, natural, size-skewed.</summary>
    public static PartitionerRegistry CreateDefault()
    {
        var r = new PartitionerRegistry();
        r.Register(IidPartitioner.PartitionerName, IidPartitioner.Create);
        r.Register(DirichletPartitioner.PartitionerName, DirichletPartitioner.Create);
        r.Register(ShardsPartitioner.PartitionerName, ShardsPartitioner.Create);
        r.Register(ClassesPartitioner.PartitionerName, ClassesPartitioner.Create);
        r.Register(NaturalPartitioner.PartitionerName, NaturalPartitioner.Create);
        r.Register(SizeSkewedPartitioner.PartitionerName, SizeSkewedPartitioner.Create);
        return r;
    }

    /// <summary>Adds or replaces a partitioner.</summary>
    public void Register(string name, PartitionerFactory create) => _factories[name] = create;

    /// <summary>Registered names, sorted.</summary>
    public IReadOnlyList<string> Names => _factories.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>Creates the partitioner <paramref name="name"/>; an unknown name throws listing the registered ones.</summary>
    public IPartitioner Create(string name, Records.Config parameters)
    {
        if (!_factories.TryGetValue(name, out var create))
            throw new PartitionerException(null, $"unknown partitioner '{name}' (allowed: {string.Join(", ", Names)})");
        return create(new PartitionerParameters(name, parameters));
    }
}
