namespace Cohort.Simulation.Tests;

public sealed class NumberedClientNamesTests
{
    [Fact]
    public void Names_are_zero_padded_in_ordinal_order_and_map_back_to_their_index()
    {
        var names = new NumberedClientNames(1_000_000);

        Assert.Equal(1_000_000, names.Count);
        Assert.Equal("client-0000001", names[0]);
        Assert.Equal("client-1000000", names[999_999]);
        Assert.True(string.CompareOrdinal(names[9], names[10]) < 0);
        foreach (int i in new[] { 0, 9, 10, 99_999, 999_999 }) Assert.Equal(i, names.IndexOf(names[i]));
    }

    [Theory]
    [InlineData("client-1")] // not padded: a different name
    [InlineData("client-0000000")]
    [InlineData("client-1000001")]
    [InlineData("node-0000001")]
    [InlineData("client-+000001")]
    public void Names_that_are_not_a_client_have_no_index(string name) =>
        Assert.Equal(-1, new NumberedClientNames(1_000_000).IndexOf(name));

    [Fact]
    public void Few_clients_get_two_digits_as_before()
    {
        var names = new NumberedClientNames(5);

        Assert.Equal(["client-01", "client-02", "client-03", "client-04", "client-05"], names);
        Assert.Throws<ArgumentOutOfRangeException>(() => names[5]);
    }
}
