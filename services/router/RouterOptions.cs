using System.ComponentModel.DataAnnotations;

namespace Mesh.Router;

/// <summary>Settings of the router (section <c>Router</c>).</summary>
public sealed class RouterOptions
{
    /// <summary>Latency budget of a request that names none, in milliseconds. Default 100.</summary>
    [Range(1, 10_000)]
    public int DefaultBudgetMs { get; set; } = 100;

    /// <summary>Largest request body accepted, in bytes. Default 1 MiB.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>ERCache direct cache: an embedding younger than this is served without reading the store. Default 30 s.</summary>
    public TimeSpan DirectCacheTtl { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>ERCache failover cache: served when the store is slow, failing or empty. Default 30 minutes.</summary>
    public TimeSpan FailoverCacheTtl { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Longest wait for the embedding store before the failover cache answers. Default 25 ms.</summary>
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromMilliseconds(25);

    /// <summary>Users kept in each ERCache level. Default 200,000.</summary>
    [Range(1, 100_000_000)]
    public int MaxCachedUsers { get; set; } = 200_000;

    /// <summary>Candidates the large tier rescores in a cascade (the early stage keeps this many). Default 50.</summary>
    [Range(1, 10_000)]
    public int FinalStageSize { get; set; } = 50;

    /// <summary>
    /// Early-exit threshold of the final stage for requests that name none (<c>exitThreshold</c>), 0 to 1: after each
    /// layer of the tier, a candidate predicted below this share of the k-th best still running stops there. Null
    /// (default): no early exit.
    /// </summary>
    [Range(0.0, 1.0)]
    public double? ExitThreshold { get; set; }

    /// <summary>
    /// One in this many requests whose cascade is predicted over budget takes the cascade anyway (reason <c>probe</c>),
    /// so that the prediction, learnt only from cascades that ran, comes back down once they are fast again: without
    /// probes a few slow cascades at start-up (model loads, JIT) leave the router on the small tier for good. Default
    /// 100 (1% of such requests may overrun their budget).
    /// </summary>
    [Range(1, 1_000_000)]
    public int ProbeEvery { get; set; } = 100;

    /// <summary>Rank requests in flight above which new ones use the small tier only (load shedding). Default 64.</summary>
    [Range(1, 100_000)]
    public int MaxInFlightForLarge { get; set; } = 64;

    /// <summary>Served requests whose impressions may wait to be published. Default 10,000.</summary>
    [Range(1, 10_000_000)]
    public int ImpressionQueueCapacity { get; set; } = 10_000;
}
