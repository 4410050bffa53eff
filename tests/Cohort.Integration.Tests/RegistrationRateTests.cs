using Cohort.Engine.State;
using Cohort.Integration.Tests.Infrastructure;
using Cohort.Server.Fleet;
using Cohort.Transport.Channels;
using Cohort.Transport.V1;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;

namespace Cohort.Integration.Tests;

/// <summary>A node that registers over and over (a loop, a flood) is held to a few registrations and then one a second.</summary>
public sealed class RegistrationRateTests
{
    [Fact]
    public async Task A_node_registering_in_a_loop_is_refused_after_its_burst_without_an_event_each_and_may_register_again_a_second_later()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("looper", default);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));
        var fleet = new Fleet.FleetClient(channel);
        var request = new RegisterRequest { NodeName = "looper", App = "empty", Version = "test", ProtocolVersion = 1, SessionId = "one-session" };

        var codes = new List<StatusCode>();
        string? refusal = null;
        var loop = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 6 * RegistrationGate.Burst; i++)
        {
            try
            {
                await fleet.RegisterAsync(request);
                codes.Add(StatusCode.OK);
            }
            catch (RpcException e)
            {
                codes.Add(e.StatusCode);
                refusal ??= e.Status.Detail;
            }
        }
        loop.Stop();
        // The burst first; after it, no more than the allowance the loop's own time refilled (one a second).
        int admitted = codes.Count(c => c == StatusCode.OK);
        Assert.All(codes.Take(RegistrationGate.Burst), c => Assert.Equal(StatusCode.OK, c));
        Assert.All(codes, c => Assert.True(c is StatusCode.OK or StatusCode.ResourceExhausted, $"{c}"));
        Assert.InRange(admitted, RegistrationGate.Burst, RegistrationGate.Burst + 1 + (int)(loop.Elapsed / RegistrationGate.Refill));
        Assert.StartsWith($"node 'looper' registered {RegistrationGate.Burst} times in quick succession; it may register again in ", refusal);

        // Only the admitted registrations wrote their event.
        var store = server.Host.Services.GetRequiredService<IStateStore>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        int online;
        while ((online = (await store.ListEventsAsync(null, default)).Count(e => e.Kind == "node.online")) < admitted && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.Equal(admitted, online);

        // Once the allowance refills, the node registers again; other nodes were never held.
        await Task.Delay(RegistrationGate.Refill + TimeSpan.FromMilliseconds(200));
        await fleet.RegisterAsync(request);
        await using var other = await RawNode.RegisterAsync(server.Host.Address, server.Host.CaFile!, "other", await server.Control.CreateNodeTokenAsync("other", default));
    }

    [Fact]
    public async Task Registrations_refused_as_invalid_do_not_spend_the_nodes_allowance()
    {
        await using var server = await TestServer.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("typo", default);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Host.Address.ToString(), token, server.Host.CaFile));
        var fleet = new Fleet.FleetClient(channel);
        var invalid = new RegisterRequest { NodeName = "typo", App = "empty", Version = "test", ProtocolVersion = 1, SessionId = "s" };
        invalid.Datasets.Add(new DatasetInfo { Name = "not a valid name!", SchemaHash = "ab" });

        for (int i = 0; i < 3 * RegistrationGate.Burst; i++)
        {
            var e = await Assert.ThrowsAsync<RpcException>(async () => await fleet.RegisterAsync(invalid));
            Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        }

        // The fixed declaration gets the whole burst at once.
        invalid.Datasets.Clear();
        for (int i = 0; i < RegistrationGate.Burst; i++) await fleet.RegisterAsync(invalid);
    }
}
