using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>Creates a strategy from the name and parameters a plan gives.</summary>
public delegate IStrategy StrategyFactory(Config parameters, StrategyServices services);

/// <summary>
/// Strategies by name: the built-ins plus those a host or plugin registers. The plan parser asks it
/// whether a strategy exists, which parameters it takes and what it can take part in.
/// </summary>
public sealed class StrategyRegistry
{
    /// <summary>What <see cref="OriginOf"/> says of the strategies that ship with Cohort.</summary>
    public const string BuiltIn = "built-in";

    private readonly Dictionary<string, (StrategyDescriptor Descriptor, string Origin)> _strategies = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The descriptors of the strategies that ship with Cohort.</summary>
    public static IReadOnlyList<StrategyDescriptor> BuiltIns { get; } =
    [
        FedAvg.Descriptor, FedAvgM.Descriptor, FedProx.Descriptor, FedAdam.Descriptor, FedYogi.Descriptor, FedAdagrad.Descriptor,
        QFedAvg.Descriptor, Scaffold.Descriptor, FedMedian.Descriptor, FedTrimmedAvg.Descriptor, Krum.Descriptor, Bulyan.Descriptor,
    ];

    /// <summary>A registry holding the built-in strategies.</summary>
    public static StrategyRegistry CreateDefault()
    {
        var r = new StrategyRegistry();
        foreach (var d in BuiltIns) r.Register(d, BuiltIn);
        return r;
    }

    /// <summary>
    /// Adds a strategy; <paramref name="origin"/> (a plugin's file, "built-in") names where it came from in
    /// errors. A name already registered is refused, naming both origins.
    /// </summary>
    public void Register(StrategyDescriptor descriptor, string origin)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        ArgumentException.ThrowIfNullOrWhiteSpace(origin);
        // A plan must be able to name it, and each of its parameters once.
        if (string.IsNullOrEmpty(descriptor.Name) || !descriptor.Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            throw new ArgumentException($"strategy '{descriptor.Name}' from {origin}: a name needs letters, digits, '-', '_' or '.' only, and at least one");
        if (descriptor.Parameters.GroupBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"strategy '{descriptor.Name}' from {origin} declares parameter '{twice.Key}' {twice.Count()} times");
        if (_strategies.TryGetValue(descriptor.Name, out var existing))
            throw new ArgumentException($"strategy '{descriptor.Name}' from {origin} clashes with strategy '{existing.Descriptor.Name}' from {existing.Origin}");
        _strategies.Add(descriptor.Name, (descriptor, origin));
    }

    /// <summary>Names of all registered strategies, sorted.</summary>
    public IReadOnlyList<string> Names => _strategies.Values.Select(s => s.Descriptor.Name).Order(StringComparer.Ordinal).ToArray();

    /// <summary>All registered strategies, sorted by name.</summary>
    public IReadOnlyList<StrategyDescriptor> Descriptors => _strategies.Values.Select(s => s.Descriptor).OrderBy(d => d.Name, StringComparer.Ordinal).ToArray();

    /// <summary>True when <paramref name="name"/> is registered.</summary>
    public bool Contains(string name) => _strategies.ContainsKey(name);

    /// <summary>The strategy called <paramref name="name"/>, or null.</summary>
    public StrategyDescriptor? Find(string name) => _strategies.TryGetValue(name, out var s) ? s.Descriptor : null;

    /// <summary>Where the strategy called <paramref name="name"/> came from ("built-in", a plugin's file), or null.</summary>
    public string? OriginOf(string name) => _strategies.TryGetValue(name, out var s) ? s.Origin : null;

    /// <summary>The strategy called <paramref name="name"/>; throws naming the registered strategies (and the nearest) when there is none.</summary>
    public StrategyDescriptor Get(string name) =>
        Find(name) ?? throw new KeyNotFoundException(UnknownMessage(name));

    /// <summary>"unknown strategy 'x' (allowed: …)", with a did-you-mean hint when a registered name is close.</summary>
    public string UnknownMessage(string name) =>
        $"unknown strategy '{name}' (allowed: {string.Join(", ", Names)}){NearestName.Hint(name, Names)}";

    /// <summary>The names of the strategies that declare every flag of <paramref name="capabilities"/>, sorted.</summary>
    public IReadOnlyList<string> NamesWith(StrategyCapabilities capabilities) =>
        Descriptors.Where(d => d.Has(capabilities)).Select(d => d.Name).ToArray();

    /// <summary>Creates a strategy after checking its parameters; throws naming what is wrong.</summary>
    public IStrategy Create(string name, Config parameters, StrategyServices services)
    {
        var descriptor = Get(name);
        descriptor.Validate(parameters);
        return descriptor.Create(parameters, services);
    }
}
