using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Telemetry;

namespace Mesh.Router;

/// <summary>
/// The router's figures for <c>/v1/stats</c>: request counts and latency percentiles (over the last 10,000 requests),
/// ERCache outcomes, tier mix, precompute coverage, the model version the ranker last answered with, and the request
/// features left out (names the feature space does not configure, list values beyond a feature's maximum). The same
/// events feed the meter <c>router</c> (docs/telemetry.md): per-hop latency histograms, ERCache outcomes, tier choices and
/// precompute lookups.
/// </summary>
public sealed class RouterMetrics : IStatsContributor
{
    /// <summary>The router's spans: the embedding read and the impressions' publish (the request's span is ASP.NET Core's).</summary>
    public static ActivitySource Source { get; } = MeshTelemetry.Source(AppIds.Router);

    private readonly RecentSamples _latencies = new();
    private readonly long[] _embeddingSources = new long[Enum.GetValues<EmbeddingSource>().Length];
    private readonly Lock _lock = new();
    private long _requests;
    private long _rejected;
    private long _failed;
    private long _large;
    private long _small;
    private long _precomputedHits;
    private long _precomputedLookups;
    private long _modelVersion;
    private long _publishRetries;
    private long _unknownFeatures;
    private long _droppedFeatureValues;

    private readonly Histogram<double>? _embeddingDuration;
    private readonly Histogram<double>? _rankerCallDuration;
    private readonly Histogram<double>? _rankDuration;
    private readonly Histogram<double>? _publishDuration;
    private readonly Counter<long>? _embeddingLookups;
    private readonly Counter<long>? _tierChoices;
    private readonly Counter<long>? _precomputeLookups;
    private readonly Counter<long>? _precomputeHits;

    public RouterMetrics()
    {
    }

    /// <summary>Figures that <paramref name="meters"/> also report (the DI constructor).</summary>
    public RouterMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(AppIds.Router);
        _embeddingDuration = meter.CreateLatencyHistogram("mesh.router.embedding.duration", "ERCache read of the user embedding, per source that answered.");
        _rankerCallDuration = meter.CreateLatencyHistogram("mesh.router.ranker_call.duration", "The ranker's score call from the router (invocation included), per tier chosen.");
        _rankDuration = meter.CreateLatencyHistogram("mesh.router.rank.duration", "A served rank request from body read to reply, per tier chosen.");
        _publishDuration = meter.CreateLatencyHistogram("mesh.router.impressions.publish.duration", "Publishing one request's impressions, retries included.");
        _embeddingLookups = meter.CreateCounter<long>("mesh.router.embedding.lookups", "{lookup}", "ERCache outcomes: direct_cache, store, failover or default (mesh.embedding.source).");
        _tierChoices = meter.CreateCounter<long>("mesh.router.tier.choices", "{request}", "Rank requests per tier the policy chose (mesh.tier).");
        _precomputeLookups = meter.CreateCounter<long>("mesh.router.precompute.lookups", "{candidate}", "Large-tier candidates looked up in the precomputed store.");
        _precomputeHits = meter.CreateCounter<long>("mesh.router.precompute.hits", "{candidate}", "Of those, candidates with a usable precomputed representation.");
    }

    /// <summary>The embedding read took <paramref name="elapsed"/> and <paramref name="source"/> answered.</summary>
    public void RecordEmbedding(EmbeddingSource source, TimeSpan elapsed)
    {
        var tag = new KeyValuePair<string, object?>("mesh.embedding.source", SourceName(source));
        _embeddingLookups?.Add(1, tag);
        _embeddingDuration?.Record(elapsed.TotalSeconds, tag);
    }

    public void RecordRankerCall(string tier, TimeSpan elapsed) =>
        _rankerCallDuration?.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("mesh.tier", tier));

    public void RecordPublish(TimeSpan elapsed) => _publishDuration?.Record(elapsed.TotalSeconds);

    public void CountServed(EmbeddingSource source, string tier, double totalMs, ScoreResponse score)
    {
        var tierTag = new KeyValuePair<string, object?>("mesh.tier", tier);
        _tierChoices?.Add(1, tierTag);
        _rankDuration?.Record(totalMs / 1000, tierTag);
        _precomputeLookups?.Add(score.PrecomputedLookups);
        _precomputeHits?.Add(score.PrecomputedHits);
        lock (_lock)
        {
            _latencies.Add(totalMs);
            _requests++;
            _embeddingSources[(int)source]++;
            if (tier == Tiers.Large)
            {
                _large++;
            }
            else
            {
                _small++;
            }

            _precomputedHits += score.PrecomputedHits;
            _precomputedLookups += score.PrecomputedLookups;
            _modelVersion = score.ModelVersion;
        }
    }

    public void CountRejected() => Interlocked.Increment(ref _rejected);
    public void CountFailed() => Interlocked.Increment(ref _failed);
    public void CountPublishRetry() => Interlocked.Increment(ref _publishRetries);

    /// <summary>Counts feature names ignored (not configured, or configured for the other side) and list values dropped.</summary>
    public void CountFeatures(int unknown, int dropped)
    {
        if (unknown > 0)
        {
            Interlocked.Add(ref _unknownFeatures, unknown);
        }

        if (dropped > 0)
        {
            Interlocked.Add(ref _droppedFeatureValues, dropped);
        }
    }

    public void Contribute(IDictionary<string, object?> stats)
    {
        lock (_lock)
        {
            var latency = _latencies.Summarize(digits: 3);
            var lookups = _embeddingSources.Sum();
            stats["requests"] = _requests;
            stats["rejectedRequests"] = Interlocked.Read(ref _rejected);
            stats["failedRequests"] = Interlocked.Read(ref _failed);
            stats["p50Ms"] = latency.P50;
            stats["p99Ms"] = latency.P99;
            stats["embeddingCacheHitRate"] = Rate(_embeddingSources[(int)EmbeddingSource.DirectCache], lookups);
            stats["embeddingSources"] = Enum.GetValues<EmbeddingSource>().ToDictionary(s => System.Text.Json.JsonNamingPolicy.CamelCase.ConvertName(s.ToString()), s => _embeddingSources[(int)s]);
            stats["precomputeHitRate"] = Rate(_precomputedHits, _precomputedLookups);
            stats["modelVersion"] = _modelVersion;
            stats["tiers"] = new Dictionary<string, long> { [Tiers.Small] = _small, [Tiers.Large] = _large };
            stats["impressionPublishRetries"] = Interlocked.Read(ref _publishRetries);
            stats["features"] = new Dictionary<string, long>
            {
                ["unknownIgnored"] = Interlocked.Read(ref _unknownFeatures),
                ["valuesDropped"] = Interlocked.Read(ref _droppedFeatureValues),
            };
        }
    }

    private static string SourceName(EmbeddingSource source) => source switch
    {
        EmbeddingSource.DirectCache => "direct_cache",
        EmbeddingSource.Store => "store",
        EmbeddingSource.Failover => "failover",
        _ => "default",
    };

    private static double Rate(long part, long whole) => whole == 0 ? 0 : (double)part / whole;
}
