using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Telemetry;
using Mesh.Serving;

namespace Mesh.Ranker.Scoring;

/// <summary>
/// The ranker's counters, reported under <c>ranker</c> in <c>/v1/stats</c>; the same events feed the meter
/// <c>ranker</c> (docs/telemetry.md) when built with one: stage and engine-run latency, candidates per tier, early-exit
/// depth and batch sizes.
/// </summary>
public sealed class RankerMetrics(ServingModel serving, ServingLag? lag = null, IMeterFactory? meters = null) : IStatsContributor
{
    /// <summary>The ranker's spans: one per cascade stage (<c>tier small</c>, <c>tier large</c>).</summary>
    public static ActivitySource Source { get; } = MeshTelemetry.Source(AppIds.Ranker);

    private readonly Instruments? _instruments = meters is null ? null : new Instruments(meters.Create(AppIds.Ranker));

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
            batches = Interlocked.Read(ref _batches),
            batchedRequests = Interlocked.Read(ref _batchedRequests),
            batchedCandidates = Interlocked.Read(ref _batchedCandidates),
        };
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
