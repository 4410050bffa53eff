using Cohort.Parameters;
using Cohort.Records;

namespace Cohort.Strategies;

/// <summary>
/// FedProx (Li et al., 2020, "Federated Optimization in Heterogeneous Networks"): FedAvg on the server;
/// each node adds μ/2·‖w − w_global‖² to its local loss. μ travels in every fit config as
/// <c>proximal_mu</c>, which the built-in apps honour.
/// </summary>
public sealed class FedProx : FedAvg
{
    /// <summary>The registry's entry for FedProx.</summary>
    public static new StrategyDescriptor Descriptor { get; } = new(
        "fedprox", "Li et al., 2020: FedAvg with a proximal term in every node's local loss",
        StrategyCapabilities.SumBased | StrategyCapabilities.Asynchronous | StrategyCapabilities.SecureAggregation | StrategyCapabilities.Personalization | StrategyCapabilities.DifferentialPrivacy,
        [StrategyParameter.Number("proximal_mu", 0.01, "μ of the proximal term μ/2·‖w − w_global‖², sent in every fit config", min: 0)],
        (p, services) => new FedProx(p, services));

    /// <summary>The fit-config key carrying μ.</summary>
    public const string ProximalMuKey = "proximal_mu";

    /// <summary>Creates FedProx from <c>strategy.params</c>.</summary>
    public FedProx(Config parameters, StrategyServices? services = null) : base(services)
    {
        ProximalMu = new StrategyParameters("fedprox", parameters).Number("proximal_mu", 0.01, v => v >= 0, "a number >= 0");
    }

    /// <summary>μ.</summary>
    public double ProximalMu { get; }

    /// <inheritdoc />
    public override string Name => "fedprox";

    /// <inheritdoc />
    public override IReadOnlyList<NodeInstruction> ConfigureFit(RoundContext round, ParameterSet global, IReadOnlyList<string> availableNodes)
    {
        var config = round.FitConfig.With([KeyValuePair.Create(ProximalMuKey, Scalar.Of(ProximalMu))]);
        return base.ConfigureFit(round with { FitConfig = config }, global, availableNodes);
    }
}
