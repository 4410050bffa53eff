using Cohort.Apps.Tabular;

namespace Cohort.Apps.Tests;

public sealed class BuiltInAppsTests
{
    [Fact]
    public void Built_in_apps_include_tabular()
    {
        Assert.Contains(BuiltInApps.Factories(), f => f is TabularAppFactory && f.Name == "tabular");
    }

    [Fact]
    public void Find_is_case_insensitive_and_returns_null_for_unknown_names()
    {
        Assert.IsType<TabularAppFactory>(BuiltInApps.Find("Tabular"));
        Assert.Null(BuiltInApps.Find("images"));
    }
}
