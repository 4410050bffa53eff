using System.CommandLine;
using Cohort.Strategies;

namespace Cohort.Cli.Commands;

/// <summary><c>cohort strategies list</c>: the strategy registry (built-ins and plugins), with capabilities and parameters.</summary>
internal static class StrategiesCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var markdown = new Option<bool>("--markdown") { Description = "Print a Markdown table (the one in docs/strategies.md)" };
        var plugins = PluginOptions.Create();
        var list = new Command("list", "List the strategies a plan may name: capabilities and parameters (rule, default, meaning)") { markdown, plugins };
        list.SetAction(pr =>
        {
            var strategies = StrategyRegistry.CreateDefault();
            PluginOptions.Load(pr.GetValue(plugins), strategies, apps: null);
            Console.Write(pr.GetValue(markdown) ? StrategyCatalog.Markdown(strategies) : StrategyCatalog.Text(strategies));
            return 0;
        });
        return new Command("strategies", "The strategies plans can use") { list };
    }
}
