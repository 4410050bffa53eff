using Cohort.Integration.Tests.Infrastructure;
using Cohort.Transport.Channels;
using Grpc.Core;

namespace Cohort.Integration.Tests.Security;

/// <summary>Garbage sent to the Fleet API is refused cheaply and cannot flood the server's log.</summary>
public sealed class UndecodableCallTests
{
    // Field 1 (a string) announcing 127 bytes of which one arrives: no protobuf parser accepts it.
    private static readonly byte[] Garbage = [0x0A, 0x7F, 0x01];

    private static readonly Method<byte[], byte[]> RawRegister = new(
        MethodType.Unary, "cohort.v1.Fleet", "Register", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    [Fact]
    public async Task Undecodable_register_calls_without_a_token_are_refused_before_parsing_with_few_log_lines()
    {
        await using var server = await ServerProcess.StartAsync();
        int before = Lines(server.Process.Output);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Address.ToString(), "", server.CaFile));
        var codes = new List<StatusCode>();
        for (int i = 0; i < 200; i++) codes.Add(await CallAsync(channel));

        // Unauthenticated until the address has failed too often, then refused outright.
        Assert.Equal(StatusCode.Unauthenticated, codes[0]);
        Assert.All(codes, c => Assert.True(c is StatusCode.Unauthenticated or StatusCode.ResourceExhausted, c.ToString()));
        Assert.Contains(StatusCode.ResourceExhausted, codes);
        Assert.DoesNotContain(StatusCode.Unknown, codes);
        string written = server.Process.Output;
        Assert.True(Lines(written) - before <= 6, $"200 refused calls wrote {Lines(written) - before} log lines:\n{written}");
        Assert.DoesNotContain("   at ", written);
    }

    [Fact]
    public async Task Undecodable_register_calls_from_a_node_get_invalid_argument_and_few_log_lines()
    {
        await using var server = await ServerProcess.StartAsync();
        string token = await server.Control.CreateNodeTokenAsync("garbled", default);
        int before = Lines(server.Process.Output);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Address.ToString(), token, server.CaFile));
        var codes = new List<StatusCode>();
        for (int i = 0; i < 200; i++) codes.Add(await CallAsync(channel));

        Assert.All(codes, c => Assert.Equal(StatusCode.InvalidArgument, c));
        string output = server.Process.Output;
        Assert.True(Lines(output) - before <= 6, $"200 refused calls wrote {Lines(output) - before} log lines:\n{output}");
        Assert.DoesNotContain("   at ", output);
        Assert.Contains("undecodable RegisterRequest", output);
    }

    [Fact]
    public async Task Undecodable_login_calls_which_need_no_token_get_invalid_argument_and_few_log_lines()
    {
        await using var server = await ServerProcess.StartAsync();
        int before = Lines(server.Process.Output);
        using var channel = GrpcChannels.Create(new ConnectionOptions(server.Address.ToString(), "", server.CaFile));
        var codes = new List<StatusCode>();
        for (int i = 0; i < 200; i++) codes.Add(await CallAsync(channel, RawLogin));

        Assert.All(codes, c => Assert.Equal(StatusCode.InvalidArgument, c));
        string output = server.Process.Output;
        Assert.True(Lines(output) - before <= 6, $"200 refused calls wrote {Lines(output) - before} log lines:\n{output}");
        Assert.DoesNotContain("   at ", output);
        Assert.Contains("undecodable LoginRequest", output);
    }

    private static readonly Method<byte[], byte[]> RawLogin = new(
        MethodType.Unary, "cohort.v1.Control", "Login", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

    private static async Task<StatusCode> CallAsync(Grpc.Net.Client.GrpcChannel channel, Method<byte[], byte[]>? method = null)
    {
        try
        {
            await channel.CreateCallInvoker().AsyncUnaryCall(method ?? RawRegister, null, new CallOptions(), Garbage);
            return StatusCode.OK;
        }
        catch (RpcException e)
        {
            return e.StatusCode;
        }
    }

    private static int Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
}
