using System.CommandLine;

namespace Cohort.Cli.Commands;

/// <summary>The <c>--set KEY.PATH=VALUE</c> option of the commands that take a plan (<c>run submit</c>, <c>simulate</c>, <c>plan check</c>).</summary>
internal static class PlanSetOption
{
    /// <summary>A fresh option (System.CommandLine options belong to one command each).</summary>
    public static Option<string[]> Create() => new("--set")
    {
        Description = "Override a plan value, KEY.PATH=VALUE (e.g. rounds=3, strategy.name=fedprox, train.learning_rate=0.01, " +
            "app.settings.hidden=[64,32]: a YAML flow list or map is one); repeatable",
        AllowMultipleArgumentsPerToken = true,
    };
}
