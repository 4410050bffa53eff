using Cohort.Clients;
using Cohort.Transport.Codec;
using Cohort.Transport.V1;
using Google.Protobuf;

namespace Cohort.Transport.Tests.Codec;

/// <summary>A task's typed settings in their own field of the task header.</summary>
public sealed class TaskSettingsWireTests
{
    [Fact]
    public void Settings_survive_the_wire_in_their_own_field()
    {
        var settings = new Cohort.Clients.TaskSettings(42, new LocalPrivacySettings(0.3, 0.7, 1e-6)) { LocalParameters = ["head.*", "*.running_mean"] };
        var header = new TaskHeader { TaskId = "t", Settings = TaskSettingsWire.ToWire(settings) };

        var read = TaskHeader.Parser.ParseFrom(header.ToByteArray());

        Assert.Empty(read.Config);
        Assert.Equal(settings, TaskSettingsWire.FromWire(read.Settings));
    }

    [Fact]
    public void No_settings_send_no_field_and_read_back_as_none()
    {
        var header = new TaskHeader { TaskId = "t", Settings = TaskSettingsWire.ToWire(Cohort.Clients.TaskSettings.None) };
        var read = TaskHeader.Parser.ParseFrom(header.ToByteArray());

        Assert.Null(read.Settings);
        Assert.Same(Cohort.Clients.TaskSettings.None, TaskSettingsWire.FromWire(read.Settings));
    }

    [Fact]
    public void Local_privacy_a_node_cannot_apply_is_refused()
    {
        var wire = new V1.TaskSettings { LocalPrivacy = new LocalPrivacy { ClippingNorm = 0, NoiseMultiplier = 1 } };
        var e = Assert.Throws<InvalidDataException>(() => TaskSettingsWire.FromWire(wire));
        Assert.Equal("task settings: local privacy with clipping norm 0 and noise multiplier 1 cannot be applied", e.Message);
    }
}
