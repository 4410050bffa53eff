using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>Creates a strategy from the name and parameters a plan gives.</summary>
public delegate IStrategy StrategyFactory(Config parameters, StrategyServices services);

/// <summary>Strategies by name: the built-ins plus any user code registers.</summary>
public sealed class StrategyRegistry
{
    private readonly Dictionary<string, (StrategyFactory Create, string[] Parameters)> _factories = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>A registry holding the built-in strategies.</summary>
    public static StrategyRegistry CreateDefault()
    {
        var r = new StrategyRegistry();
        r.Register("fedavg", (_, services) => new FedAvg(services));
        r.Register("fedavgm", (p, services) => new FedAvgM(p, services), FedAvgM.ParameterKeys);
        r.Register("fedprox", (p, services) => new FedProx(p, services), FedProx.ParameterKeys);
        r.Register("fedadam", (p, services) => new FedAdam(p, services), FedOpt.ParameterKeys);
        r.Register("fedyogi", (p, services) => new FedYogi(p, services), FedOpt.ParameterKeys);
        r.Register("fedadagrad", (p, services) => new FedAdagrad(p, services), FedOpt.ParameterKeys);
        r.Register("qfedavg", (p, services) => new QFedAvg(p, services), QFedAvg.ParameterKeys);
        r.Register("scaffold", (p, services) => new Scaffold(p, services), Scaffold.ParameterKeys);
        r.Register("fedmedian", (p, services) => new FedMedian(p, services), FedMedian.ParameterKeys);
        r.Register("fedtrimmedavg", (p, services) => new FedTrimmedAvg(p, services), FedTrimmedAvg.ParameterKeys);
        r.Register("krum", (p, services) => new Krum(p, services), Krum.ParameterKeys);
        r.Register("bulyan", (p, services) => new Bulyan(p, services), Bulyan.ParameterKeys);
        return r;
    }

    /// <summary>Adds or replaces a strategy; <paramref name="parameters"/> lists the plan keys it accepts.</summary>
    public void Register(string name, StrategyFactory create, params string[] parameters) => _factories[name] = (create, parameters);

    /// <summary>Names of all registered strategies, sorted.</summary>
    public IReadOnlyList<string> Names => _factories.Keys.Order(StringComparer.Ordinal).ToArray();

    /// <summary>True when <paramref name="name"/> is registered.</summary>
    public bool Contains(string name) => _factories.ContainsKey(name);

    /// <summary>The parameter keys a strategy accepts.</summary>
    public IReadOnlyList<string> ParametersOf(string name) => _factories.TryGetValue(name, out var f) ? f.Parameters : [];

    /// <summary>Creates a strategy; throws naming the allowed strategies when the name is unknown.</summary>
    public IStrategy Create(string name, Config parameters, StrategyServices services)
    {
        if (!_factories.TryGetValue(name, out var f))
            throw new KeyNotFoundException($"unknown strategy '{name}' (allowed: {string.Join(", ", Names)})");
        return f.Create(parameters, services);
    }
}
