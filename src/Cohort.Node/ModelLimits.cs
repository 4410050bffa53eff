using Cohort.Clients;
using Cohort.Transport.V1;

namespace Cohort.Node;

/// <summary>
/// What a node accepts to receive from its server for one task: a model of at most <see cref="NodeOptions.MaxModelBytes"/>
/// (or the site policy's <c>max_model_bytes</c>, when lower) in at most <see cref="MaxTensors"/> tensors. Checked against
/// the manifest, before anything is allocated for the model, so a server cannot make a node hold more than its site allows.
/// </summary>
internal static class ModelLimits
{
    /// <summary>4 GiB: the memory the server's strategies hold a round's updates in by default (<c>memory_limit_mb</c>).</summary>
    public const long DefaultMaxModelBytes = 4L << 30;

    /// <summary>Most tensors one manifest may list; real models have hundreds to a few thousand.</summary>
    public const int MaxTensors = 65_536;

    /// <summary>Why the model of <paramref name="manifest"/> is refused; null when it is within the limits.</summary>
    public static ClientReply? Refusal(ParameterManifest manifest, NodeOptions options)
    {
        long bytes = manifest.TotalBytes;
        int tensors = manifest.Tensors.Count;
        if (tensors > MaxTensors)
            return ClientReply.Failed(FailureKind.Refused, $"the server's model lists {tensors} tensors, more than the {MaxTensors} a node accepts");
        if (options.Policy?.MaxModelBytes is { } site && site <= options.MaxModelBytes && bytes > site)
            return ClientReply.Failed(FailureKind.SitePolicy, $"model of {bytes} bytes above the site's max_model_bytes {site}");
        if (bytes > options.MaxModelBytes)
            return ClientReply.Failed(FailureKind.Refused, $"the server's model of {bytes} bytes is above this node's limit of {options.MaxModelBytes} bytes (NodeOptions.MaxModelBytes, cohort node --max-model-bytes)");
        return null;
    }

    /// <summary>The lower of the node's and the site's limit.</summary>
    public static long MaxBytes(NodeOptions options) => Math.Min(options.MaxModelBytes, options.Policy?.MaxModelBytes ?? long.MaxValue);
}
