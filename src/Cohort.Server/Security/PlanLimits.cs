using System.Text;
using Cohort.Plans;

namespace Cohort.Server.Security;

/// <summary>Caps on a submitted plan: it is stored with the run and its settings travel with every task.</summary>
internal static class PlanLimits
{
    /// <summary>Largest plan text, in UTF-8 bytes.</summary>
    public const int MaxPlanBytes = 1 << 20;

    /// <summary>Most keys a plan's app settings, strategy parameters and round config may hold together.</summary>
    public const int MaxConfigKeys = 1000;

    /// <summary>Throws <see cref="PlanException"/> when the plan text is too large (checked before parsing).</summary>
    public static void CheckText(string yaml, string source)
    {
        int bytes = Encoding.UTF8.GetByteCount(yaml);
        if (bytes > MaxPlanBytes) throw new PlanException(source, 0, 0, $"plan is {bytes} bytes; the limit is {MaxPlanBytes} bytes (1 MiB)");
    }

    /// <summary>Throws <see cref="PlanException"/> when the parsed plan carries too many settings.</summary>
    public static void CheckParsed(Plan plan, string source)
    {
        int keys = plan.App.Settings.Count + plan.Strategy.Parameters.Count + plan.RoundConfig.Count;
        if (keys > MaxConfigKeys)
            throw new PlanException(source, 0, 0, $"plan has {keys} app settings, strategy parameters and config keys; the limit is {MaxConfigKeys}");
    }
}
