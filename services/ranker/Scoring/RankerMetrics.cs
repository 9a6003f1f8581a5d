using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Telemetry;
using Mesh.Serving;

namespace Mesh.Ranker.Scoring;

/// <summary>
/// The ranker's counters, reported under <c>ranker</c> in <c>/v1/stats</c>; what it read from precompute under
/// <c>ranker.precomputed</c>: coverage (final-stage lookups that hit), the foundation-model versions read, and the
/// staleness at use (age of each representation read, in event-time milliseconds: percentiles over the last 10,000 hits).
/// The same events feed the meter <c>ranker</c> (docs/telemetry.md) when built with one: stage and engine-run latency,
/// candidates per tier, early-exit depth and batch sizes.
/// </summary>
public sealed class RankerMetrics(ServingModel serving, ServingLag? lag = null, IMeterFactory? meters = null) : IStatsContributor
{
    /// <summary>The ranker's spans: one per cascade stage (<c>tier small</c>, <c>tier large</c>).</summary>
    public static ActivitySource Source { get; } = MeshTelemetry.Source(AppIds.Ranker);

    private readonly Instruments? _instruments = meters is null ? null : new Instruments(meters.Create(AppIds.Ranker));
    private readonly RecentSamples _ages = new();
    private readonly Dictionary<long, long> _hitsByVersion = [];
    private readonly Lock _ageLock = new();
    private long _precomputedRejected;
    private long _precomputedExpired;
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
        if (_instruments is { } m && candidates > 0)
        {
            var tag = new KeyValuePair<string, object?>("mesh.tier", tier);
            m.Scored.Add(candidates, tag);
            m.ExitDepth.Record((double)candidateLayers / candidates, tag);
        }

        Interlocked.Add(ref tier == Contracts.Tiers.Small ? ref _scoredSmall : ref _scoredLarge, candidates);
        Interlocked.Add(ref _candidateLayers, candidateLayers);
    }

    public void CountPrecomputedFailure() => Interlocked.Increment(ref _precomputedFailures);

    /// <summary>A final-stage hit: a representation of foundation-model <paramref name="version"/>, <paramref name="ageMs"/> old when read.</summary>
    public void CountPrecomputedHit(long version, double ageMs)
    {
        lock (_ageLock)
        {
            _ages.Add(ageMs);
            _hitsByVersion[version] = _hitsByVersion.GetValueOrDefault(version) + 1;
        }
    }

    /// <summary>A stored representation the ranker could not read as features (its vector has the wrong length): served as a miss.</summary>
    public void CountPrecomputedRejected() => Interlocked.Increment(ref _precomputedRejected);

    /// <summary>A stored representation past its event-time expiry (the store's clock TTL had not yet removed it): served as a miss.</summary>
    public void CountPrecomputedExpired() => Interlocked.Increment(ref _precomputedExpired);

    /// <summary>One run of a tier's graph for <paramref name="requests"/> calls, <paramref name="candidates"/> candidates in all.</summary>
    public void CountBatch(int requests, int candidates)
    {
        _instruments?.BatchCandidates.Record(candidates);
        _instruments?.BatchRequests.Record(requests);
        Interlocked.Increment(ref _batches);
        Interlocked.Add(ref _batchedRequests, requests);
        Interlocked.Add(ref _batchedCandidates, candidates);
    }

    /// <summary>
    /// Starts one cascade stage of <paramref name="tier"/>: a span, and on dispose its latency in
    /// <c>mesh.ranker.stage.duration</c> (batch wait and engine run together).
    /// </summary>
    public Stage StartStage(string tier)
    {
        var activity = Source.StartActivity($"tier {tier}");
        activity?.SetTag("mesh.tier", tier);
        return new Stage(activity, _instruments?.StageDuration, tier, Stopwatch.GetTimestamp());
    }

    /// <summary>One engine run (ONNX Runtime or the managed engine) of <paramref name="tier"/>'s graph for a batch.</summary>
    public void RecordRun(string tier, TimeSpan elapsed) =>
        _instruments?.RunDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("mesh.tier", tier));

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
            precomputed = Precomputed(lookups),
            batches = Interlocked.Read(ref _batches),
            batchedRequests = Interlocked.Read(ref _batchedRequests),
            batchedCandidates = Interlocked.Read(ref _batchedCandidates),
        };
    }

    private object Precomputed(long lookups)
    {
        lock (_ageLock)
        {
            var age = _ages.Summarize(digits: 1);
            var hits = Interlocked.Read(ref _precomputedHits);
            return new
            {
                lookups,
                hits,
                coverage = lookups == 0 ? 0 : (double)hits / lookups,
                rejected = Interlocked.Read(ref _precomputedRejected),
                expired = Interlocked.Read(ref _precomputedExpired),
                failures = Interlocked.Read(ref _precomputedFailures),
                hitsByFoundationVersion = _hitsByVersion.ToDictionary(v => v.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), v => v.Value),
                ageAtUseMs = new { mean = age.Mean, p50 = age.P50, p90 = age.P90, p99 = age.P99, max = age.Max },
            };
        }
    }

    /// <summary>A running cascade stage; dispose when its scores are in.</summary>
    public readonly struct Stage(Activity? activity, Histogram<double>? duration, string tier, long started) : IDisposable
    {
        public void Dispose()
        {
            duration?.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("mesh.tier", tier));
            activity?.Dispose();
        }
    }

    private sealed class Instruments(Meter meter)
    {
        public Histogram<double> StageDuration { get; } = meter.CreateLatencyHistogram("mesh.ranker.stage.duration", "One cascade stage of a request (mesh.tier): batch wait and engine run.");
        public Histogram<double> RunDuration { get; } = meter.CreateLatencyHistogram("mesh.ranker.engine_run.duration", "One run of a tier's graph (ONNX Runtime or the managed engine) for a whole batch.");
        public Counter<long> Scored { get; } = meter.CreateCounter<long>("mesh.ranker.candidates.scored", "{candidate}", "Candidates scored per tier (mesh.tier).");
        public Histogram<double> ExitDepth { get; } = meter.CreateHistogram("mesh.ranker.early_exit.depth", "{layer}", "Mean layers computed per candidate in one stage; below the tier's depth when early exit cut candidates short.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16] });
        public Histogram<int> BatchCandidates { get; } = meter.CreateHistogram("mesh.ranker.batch.candidates", "{candidate}", "Candidates in one engine run.",
            tags: null, new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 10, 25, 50, 100, 200, 400, 800, 1600, 3200] });
        public Histogram<int> BatchRequests { get; } = meter.CreateHistogram("mesh.ranker.batch.requests", "{request}", "Requests' stages scored in one engine run.",
            tags: null, new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });
    }
}
