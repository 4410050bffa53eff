using Grpc.Core;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Cohort.Node;

/// <summary>
/// Retries a result push that failed in transit (server unreachable, deadline passed, connection reset)
/// with exponential backoff and jitter. A push the server refused for a reason is never retried: the
/// task id makes a repeated push of an answered task harmless, but a refusal will not change.
/// </summary>
internal static class PushRetry
{
    /// <summary>Pushes retried after the first attempt.</summary>
    public const int MaxRetries = 5;

    /// <summary>A pipeline that retries transient push failures, logging each retry; <paramref name="firstDelay"/> is the base of the backoff (250 ms).</summary>
    public static ResiliencePipeline Create(ILogger log, string node, TimeSpan? firstDelay = null) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RpcException>(IsTransient),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            MaxRetryAttempts = MaxRetries,
            Delay = firstDelay ?? TimeSpan.FromMilliseconds(250),
            MaxDelay = TimeSpan.FromSeconds(8),
            OnRetry = args =>
            {
                log.LogWarning("Node {Node}: result push failed ({Error}); retry {Attempt} of {Max} in {Delay:0.###}s",
                    node, args.Outcome.Exception?.Message, args.AttemptNumber + 1, MaxRetries, args.RetryDelay.TotalSeconds);
                return default;
            },
        })
        .Build();

    /// <summary>True for failures in transit, false for refusals (invalid argument, failed precondition, permission denied...).</summary>
    public static bool IsTransient(RpcException e) => e.StatusCode switch
    {
        StatusCode.Unavailable or StatusCode.DeadlineExceeded => true,
        StatusCode.Internal => e.Status.Detail.Contains("reset", StringComparison.OrdinalIgnoreCase)
            || e.Status.Detail.Contains("RST_STREAM", StringComparison.Ordinal),
        _ => false,
    };
}
