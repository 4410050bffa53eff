using System.Collections.Concurrent;
using Cohort.Learning.Nn;

namespace Cohort.Apps.Mnist;

/// <summary>
/// Built networks kept between tasks, per architecture, so a virtual client that trains for one
/// round and is released does not rebuild weights and activation buffers every time. The pool
/// holds at most as many networks as ever ran at once.
/// </summary>
internal static class NetworkPool
{
    private static readonly ConcurrentDictionary<string, ConcurrentBag<Sequential>> Pools = new(StringComparer.Ordinal);

    public static Sequential Rent(MnistSettings settings)
    {
        var bag = Pools.GetOrAdd(settings.Model, _ => []);
        var network = bag.TryTake(out var pooled) ? pooled : settings.CreateNetwork();
        network.Threads = settings.Threads;
        return network;
    }

    public static void Return(Sequential network) => Pools.GetOrAdd(network.Name, _ => []).Add(network);
}
