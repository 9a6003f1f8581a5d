using Mesh.Contracts;
using Mesh.Runtime;

namespace Mesh.Router;

/// <summary>
/// The router's figures for <c>/v1/stats</c>: request counts and latency percentiles (over the last 10,000 requests),
/// ERCache outcomes, tier mix, precompute coverage, the model version the ranker last answered with, and the request
/// features left out (names the feature space does not configure, list values beyond a feature's maximum).
/// </summary>
public sealed class RouterMetrics : IStatsContributor
{
    private const int LatencyWindow = 10_000;

    private readonly double[] _latencies = new double[LatencyWindow];
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

    public void CountServed(EmbeddingSource source, string tier, double totalMs, ScoreResponse score)
    {
        lock (_lock)
        {
            _latencies[_requests % LatencyWindow] = totalMs;
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
            var window = _latencies.AsSpan(0, (int)Math.Min(_requests, LatencyWindow)).ToArray();
            Array.Sort(window);
            var lookups = _embeddingSources.Sum();
            stats["requests"] = _requests;
            stats["rejectedRequests"] = Interlocked.Read(ref _rejected);
            stats["failedRequests"] = Interlocked.Read(ref _failed);
            stats["p50Ms"] = Percentile(window, 0.50);
            stats["p99Ms"] = Percentile(window, 0.99);
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

    private static double Rate(long part, long whole) => whole == 0 ? 0 : (double)part / whole;

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : Math.Round(sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(q * sorted.Length))], 3);
}
