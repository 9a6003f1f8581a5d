using Mesh.Runtime;
using Mesh.Serving;

namespace Mesh.Ranker.Scoring;

/// <summary>The ranker's counters, reported under <c>ranker</c> in <c>/v1/stats</c>.</summary>
public sealed class RankerMetrics(ServingModel serving, ServingLag? lag = null) : IStatsContributor
{
    private long _requests;
    private long _scoredSmall;
    private long _scoredLarge;
    private long _candidateLayers;
    private long _precomputedHits;
    private long _precomputedLookups;
    private long _precomputedFailures;
    private long _batches;
    private long _batchedRequests;
    private long _batchedCandidates;

    public void CountRequest(int precomputedHits, int precomputedLookups)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _precomputedHits, precomputedHits);
        Interlocked.Add(ref _precomputedLookups, precomputedLookups);
    }

    /// <summary>A stage scored <paramref name="candidates"/> with <paramref name="tier"/>, computing <paramref name="candidateLayers"/> candidate-layers.</summary>
    public void CountScored(string tier, int candidates, long candidateLayers)
    {
        Interlocked.Add(ref tier == Contracts.Tiers.Small ? ref _scoredSmall : ref _scoredLarge, candidates);
        Interlocked.Add(ref _candidateLayers, candidateLayers);
    }

    public void CountPrecomputedFailure() => Interlocked.Increment(ref _precomputedFailures);

    /// <summary>One run of a tier's graph for <paramref name="requests"/> calls, <paramref name="candidates"/> candidates in all.</summary>
    public void CountBatch(int requests, int candidates)
    {
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchedRequests, requests);
        Interlocked.Add(ref _batchedCandidates, candidates);
    }

    public void Contribute(IDictionary<string, object?> stats)
    {
        var lookups = Interlocked.Read(ref _precomputedLookups);
        stats["ranker"] = new
        {
            requests = Interlocked.Read(ref _requests),
            modelVersion = serving.Version,
            lag = lag?.Snapshot(),
            devices = serving.Targets.Select(t => new { target = t.Configured, running = t.Running.ToString(), fallback = t.FallbackReason }).ToArray(),
            modelLoads = serving.Loads,
            scoredSmall = Interlocked.Read(ref _scoredSmall),
            scoredLarge = Interlocked.Read(ref _scoredLarge),
            candidateLayers = Interlocked.Read(ref _candidateLayers),
            precomputedHits = Interlocked.Read(ref _precomputedHits),
            precomputedLookups = lookups,
            precomputedHitRate = lookups == 0 ? 0 : (double)Interlocked.Read(ref _precomputedHits) / lookups,
            precomputedFailures = Interlocked.Read(ref _precomputedFailures),
            batches = Interlocked.Read(ref _batches),
            batchedRequests = Interlocked.Read(ref _batchedRequests),
            batchedCandidates = Interlocked.Read(ref _batchedCandidates),
        };
    }
}
