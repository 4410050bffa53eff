using Cohort.Server.Fleet;

namespace Cohort.Integration.Tests;

/// <summary>The registry takes a sign of life only from a node's current session, or from an older node that names none.</summary>
public sealed class NodeRegistrySessionTests
{
    [Fact]
    public void A_replaced_session_gives_no_sign_of_life_and_is_not_current()
    {
        var registry = new NodeRegistry();
        registry.Register("cleveland", "tabular", "1", "a", session: "frozen");
        registry.Register("cleveland", "tabular", "1", "b", session: "replacement");
        Assert.Single(registry.Sweep(TimeSpan.FromTicks(-1)));

        Assert.False(registry.IsCurrentSession("cleveland", "frozen"));
        Assert.False(registry.Touch("cleveland", ["task"], updateBusy: true, session: "frozen"));
        Assert.False(registry.IsOnline("cleveland"));
        Assert.True(registry.IsCurrentSession("cleveland", "replacement"));
        Assert.True(registry.Touch("cleveland", session: "replacement"));
        Assert.True(registry.IsOnline("cleveland"));
    }

    [Fact]
    public void A_session_counted_offline_briefly_comes_back_with_its_next_sign_of_life()
    {
        var registry = new NodeRegistry();
        registry.Register("cleveland", "tabular", "1", "a", session: "blip");
        Assert.Single(registry.Sweep(TimeSpan.FromTicks(-1)));

        Assert.True(registry.IsCurrentSession("cleveland", "blip"));
        Assert.True(registry.Touch("cleveland", session: "blip"));
        Assert.True(registry.IsOnline("cleveland"));
    }

    [Fact]
    public void A_call_naming_no_session_is_taken_as_before_once_the_node_registered()
    {
        var registry = new NodeRegistry();
        Assert.False(registry.IsCurrentSession("cleveland", ""));
        Assert.False(registry.IsCurrentSession("cleveland", "any"));
        Assert.False(registry.Touch("cleveland"));

        registry.Register("cleveland", "tabular", "1", "a", session: "current");
        Assert.True(registry.IsCurrentSession("cleveland", ""));
        Assert.True(registry.Touch("cleveland"));
        registry.Register("older", "tabular", "1", "b");
        Assert.True(registry.Touch("older"));
        Assert.False(registry.Touch("older", session: "another"));
    }
}
