using Cohort.Transport.V1;
using Google.Protobuf.Reflection;

namespace Cohort.Transport.Tests;

/// <summary>
/// What the server can ask of a node, enumerated from the protocol itself. Every Fleet call is made by
/// the node; the server only answers. If a call or a server-to-node field is added, these tests fail
/// until docs/security.md ("What the server can ask of a node") is brought up to date with it.
/// </summary>
public sealed class FleetSurfaceTests
{
    [Fact]
    public void The_fleet_api_is_six_calls_the_node_makes_and_none_asks_for_files_or_data()
    {
        var fleet = FleetReflection.Descriptor.Services.Single(s => s.Name == "Fleet");

        var calls = fleet.Methods.Select(m => $"{m.Name}({m.InputType.Name}{(m.IsClientStreaming ? " stream" : "")}) -> {m.OutputType.Name}{(m.IsServerStreaming ? " stream" : "")}");

        Assert.Equal(
            [
                "Register(RegisterRequest) -> RegisterReply",
                "Heartbeat(HeartbeatRequest) -> HeartbeatReply",
                "PullTask(PullTaskRequest) -> TaskMessage stream",
                "PushResult(ResultMessage stream) -> PushResultReply",
                "PushResults(ResultMessage stream) -> PushResultReply stream",
                "Leave(LeaveRequest) -> LeaveReply",
            ],
            calls);
        Assert.Single(FleetReflection.Descriptor.Services);
    }

    [Fact]
    public void Everything_the_server_sends_a_node_is_a_task_its_parameters_or_bookkeeping()
    {
        // The complete set of fields that travel from server to node, nested messages included.
        var fields = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var reply in new[] { RegisterReply.Descriptor, HeartbeatReply.Descriptor, LeaveReply.Descriptor, TaskMessage.Descriptor, PushResultReply.Descriptor })
            Collect(reply, fields, new HashSet<string>(StringComparer.Ordinal));

        string[] expected =
        [
            "HeartbeatReply.cancel_task_ids",
            "LeaveReply.left",
            "LocalPrivacy.clipping_norm", "LocalPrivacy.delta", "LocalPrivacy.noise_multiplier",
            "ParameterChunk.data", "ParameterChunk.offset",
            "ParameterManifest.sha256", "ParameterManifest.tensors", "ParameterManifest.total_bytes",
            "PushResultReply.accepted", "PushResultReply.reason", "PushResultReply.task_id",
            "RegisterReply.heartbeat_interval_ms", "RegisterReply.node_id", "RegisterReply.server_version",
            "Scalar.bool_value", "Scalar.double_value", "Scalar.int_value", "Scalar.string_value",
            "TaskHeader.app", "TaskHeader.app_settings", "TaskHeader.config", "TaskHeader.dataset", "TaskHeader.has_parameters", "TaskHeader.kept_open", "TaskHeader.kind", "TaskHeader.noise_multiplier",
            "TaskHeader.privacy", "TaskHeader.round", "TaskHeader.rounds", "TaskHeader.run_id", "TaskHeader.secure_aggregation",
            "TaskHeader.settings", "TaskHeader.strategy", "TaskHeader.submitter", "TaskHeader.tags", "TaskHeader.task_id", "TaskHeader.timeout_seconds",
            "TaskMessage.chunk", "TaskMessage.header", "TaskMessage.manifest",
            "TaskSettings.local_parameters", "TaskSettings.local_privacy", "TaskSettings.seed",
            "TensorSpec.dtype", "TensorSpec.name", "TensorSpec.shape",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), fields);
    }

    private static void Collect(MessageDescriptor message, SortedSet<string> fields, HashSet<string> seen)
    {
        if (!seen.Add(message.FullName)) return;
        foreach (var field in message.Fields.InDeclarationOrder())
        {
            if (field.IsMap)
            {
                fields.Add($"{message.Name}.{field.Name}");
                var value = field.MessageType.FindFieldByName("value");
                if (value.FieldType == FieldType.Message) Collect(value.MessageType, fields, seen);
                continue;
            }
            fields.Add($"{message.Name}.{field.Name}");
            if (field.FieldType == FieldType.Message) Collect(field.MessageType, fields, seen);
        }
    }
}
