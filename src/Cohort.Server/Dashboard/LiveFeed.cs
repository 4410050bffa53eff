using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cohort.Engine.State;
using Microsoft.AspNetCore.Http;

namespace Cohort.Server.Dashboard;

/// <summary>
/// Server-sent events for the live pages: a small snapshot of runs (status, rounds, phase) and node counts,
/// sent whenever it changes. Pages re-fetch their content when a snapshot arrives.
/// </summary>
internal sealed partial class LiveFeed(DashboardData data)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private (string Json, DateTime At) _cached = ("", DateTime.MinValue);

    /// <summary>How often a connection checks for changes.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(500);

    /// <summary>The current snapshot as JSON; computed at most once per period however many pages listen.</summary>
    public async Task<string> SnapshotAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            if (DateTime.UtcNow - _cached.At < Period) return _cached.Json;
            var runs = await data.Store.ListRunsAsync(null, ct);
            var snapshot = new Snapshot(
                data.Registry.All.Count(n => n.Online),
                data.Registry.All.Count(n => n.Status == NodeStatus.Busy),
                runs.Take(50).Select(r =>
                {
                    var p = data.ProgressOf(r.Id);
                    return new RunState(r.Id, r.Status.ToText(), r.RoundsDone, r.RoundsPlanned, p?.Round, p?.Phase.ToText(), p?.Received, p?.WaitingReason);
                }).ToList());
            _cached = (JsonSerializer.Serialize(snapshot, SnapshotJson.Default.Snapshot), DateTime.UtcNow);
            return _cached.Json;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Streams snapshots to one page until it disconnects or the server stops.</summary>
    public async Task StreamAsync(HttpContext http, CancellationToken serverStopping)
    {
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        // Reverse proxies (nginx) buffer responses unless told not to; events must flow at once.
        http.Response.Headers["X-Accel-Buffering"] = "no";
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, serverStopping);
        var ct = cts.Token;
        string last = "";
        var quiet = DateTime.UtcNow;
        try
        {
            await http.Response.WriteAsync("retry: 2000\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
            while (!ct.IsCancellationRequested)
            {
                string json = await SnapshotAsync(ct);
                if (json != last)
                {
                    last = json;
                    await http.Response.WriteAsync(new StringBuilder("event: state\ndata: ").Append(json).Append("\n\n").ToString(), ct);
                    await http.Response.Body.FlushAsync(ct);
                    quiet = DateTime.UtcNow;
                }
                else if (DateTime.UtcNow - quiet > TimeSpan.FromSeconds(15))
                {
                    // A comment line keeps idle proxies from closing the stream.
                    await http.Response.WriteAsync(": keep-alive\n\n", ct);
                    await http.Response.Body.FlushAsync(ct);
                    quiet = DateTime.UtcNow;
                }
                await Task.Delay(Period, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException)
        {
        }
    }

    private sealed record Snapshot(int NodesOnline, int NodesBusy, IReadOnlyList<RunState> Runs);

    private sealed record RunState(string Id, string Status, int Done, int Planned, int? Round, string? Phase, int? Received, string? Waiting);

    // Source-generated, so a NativeAOT build serialises it; camelCase names, in this order, are what the pages read.
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
    [JsonSerializable(typeof(Snapshot))]
    private sealed partial class SnapshotJson : JsonSerializerContext;
}
