using Mesh.Dapr;

namespace Mesh.Ranker.Scoring;

/// <summary>The ranker's counters, reported under <c>ranker</c> in <c>/v1/stats</c>.</summary>
public sealed class RankerMetrics(ServingModel serving) : IStatsContributor
{
    private long _requests;
    private long _scoredSmall;
    private long _scoredLarge;
    private long _precomputedHits;
    private long _precomputedLookups;
    private long _precomputedFailures;
    private long _modelLoads;

    public void CountRequest(int precomputedHits, int precomputedLookups)
    {
        Interlocked.Increment(ref _requests);
        Interlocked.Add(ref _precomputedHits, precomputedHits);
        Interlocked.Add(ref _precomputedLookups, precomputedLookups);
    }

    public void CountScored(string tier, int candidates) =>
        Interlocked.Add(ref tier == Contracts.Tiers.Small ? ref _scoredSmall : ref _scoredLarge, candidates);

    public void CountPrecomputedFailure() => Interlocked.Increment(ref _precomputedFailures);

    public void CountModelLoad() => Interlocked.Increment(ref _modelLoads);

    public void Contribute(IDictionary<string, object?> stats)
    {
        var lookups = Interlocked.Read(ref _precomputedLookups);
        stats["ranker"] = new
        {
            requests = Interlocked.Read(ref _requests),
            modelVersion = serving.Current.Version,
            modelLoads = Interlocked.Read(ref _modelLoads),
            scoredSmall = Interlocked.Read(ref _scoredSmall),
            scoredLarge = Interlocked.Read(ref _scoredLarge),
            precomputedHits = Interlocked.Read(ref _precomputedHits),
            precomputedLookups = lookups,
            precomputedHitRate = lookups == 0 ? 0 : (double)Interlocked.Read(ref _precomputedHits) / lookups,
            precomputedFailures = Interlocked.Read(ref _precomputedFailures),
        };
    }
}
