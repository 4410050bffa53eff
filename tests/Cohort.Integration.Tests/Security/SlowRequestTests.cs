using System.Net;
using Cohort.Cli.Commands;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Security;

namespace Cohort.Integration.Tests.Security;

/// <summary>
/// Request messages that start and never finish (no token needed for Login): each is cut at the arrival deadline, and a
/// caller past its share of messages still arriving is refused at once, so such calls cannot grow the server's memory.
/// </summary>
public sealed class SlowRequestTests
{
    [Fact]
    public async Task A_login_whose_message_never_finishes_is_answered_at_the_deadline_and_a_caller_past_its_share_at_once()
    {
        await using var server = await TestServer.StartAsync();
        using var caller = new AttackCalls(server.Host.Address.ToString(), IPAddress.Loopback);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var started = DateTime.UtcNow;

        // The caller's share, each announcing 8,000 bytes and sending 4,000: enough that Kestrel's least data rate (240 bytes
        // a second on average) would keep them for 16 s, past the deadline.
        var held = Enumerable.Range(0, ArrivingMessages.PerCaller).Select(_ => SendAsync(caller, stop.Token)).ToList();
        var refused = await WaitForAnyAsync(held, TimeSpan.FromSeconds(3));
        Assert.Null(refused);

        // One more from the same address is refused before its message is read.
        var (status, message) = await SendAsync(caller, stop.Token);
        Assert.Equal("8", status); // ResourceExhausted
        Assert.Contains("too many requests of this caller still arriving", message, StringComparison.Ordinal);

        // The ones held end at the deadline, answered, however long their callers would wait.
        var answers = await Task.WhenAll(held);
        Assert.All(answers, a => Assert.Equal(("3", $"request message did not arrive in full within {ArrivingMessages.Deadline.TotalSeconds:0} s"), a)); // InvalidArgument
        Assert.InRange(DateTime.UtcNow - started, ArrivingMessages.Deadline, TimeSpan.FromSeconds(60));
    }

    private static async Task<(string Status, string Message)?> WaitForAnyAsync(IReadOnlyList<Task<(string, string)>> calls, TimeSpan wait)
    {
        var done = await Task.WhenAny(Task.WhenAny(calls), Task.Delay(wait));
        return done is Task<Task<(string, string)>> first ? await await first : null;
    }

    // A Login call whose gRPC frame announces 8,000 bytes, of which 4,000 are sent; the body then stays open until the answer.
    private static async Task<(string Status, string Message)> SendAsync(AttackCalls caller, CancellationToken ct)
    {
        var (status, message, _) = await caller.SendAsync("/cohort.v1.Control/Login", null, 8000, new byte[4000], ct);
        return (status, message);
    }
}
