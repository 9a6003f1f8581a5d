using System.Diagnostics;
using System.Globalization;

namespace Mesh.Bench.Load;

/// <summary>One endpoint at one candidate count. Throughput and percentiles count successful (2xx, well-formed) replies only.</summary>
public sealed record PhaseResult
{
    public required string Endpoint { get; init; }
    public required int Candidates { get; init; }
    public required TimeSpan Elapsed { get; init; }
    public required long Successes { get; init; }
    public required long Errors { get; init; }
    public string? FirstError { get; init; }

    /// <summary>Client-observed latencies of successful requests in Stopwatch ticks, ascending.</summary>
    public required long[] SortedTicks { get; init; }

    /// <summary>Replies per cascade tier (<c>large</c>, <c>small</c>; <c>none</c> from the bare endpoint).</summary>
    public required IReadOnlyDictionary<string, long> Tiers { get; init; }

    /// <summary>Means of the server-reported timings over successful replies, in ms (all zero from the bare endpoint).</summary>
    public required double MeanEmbeddingMs { get; init; }

    public required double MeanRankMs { get; init; }
    public required double MeanTotalMs { get; init; }

    /// <summary>Mean candidates per reply whose precomputed representation the final stage found.</summary>
    public required double MeanPrecomputedHits { get; init; }

    /// <summary>The range of model versions that served; a trainer publishing mid-run shows here.</summary>
    public required (long Min, long Max) ModelVersions { get; init; }

    /// <summary>
    /// Host CPU time from the start of the measurement until the host settled after it, so the background work the
    /// requests caused (publishing, training, precompute) is included. Zero until <see cref="LoadBenchmark"/> sets it.
    /// </summary>
    public TimeSpan HostCpu { get; init; }

    /// <summary>The part of <see cref="HostCpu"/> spent after the last measured request, while the host settled.</summary>
    public TimeSpan HostCpuTrailing { get; init; }

    /// <summary>
    /// Cores other processes kept busy on average from the start of the measurement until the host settled; null
    /// where the machine's CPU time cannot be read. Near zero means the figure was measured on a quiet machine.
    /// </summary>
    public double? OtherCores { get; init; }

    /// <summary>How long the host took to go quiet after the measurement; null when it had not within the limit.</summary>
    public TimeSpan? Settle { get; init; }

    /// <summary>The ranker's counters over the measurement (read from <c>/v1/stats</c> before and after); null for the bare endpoint.</summary>
    public RankerCounters? Ranker { get; init; }

    /// <summary>Examples the trainer trained on from the start of the measurement until the host settled.</summary>
    public long TrainedExamples { get; init; }

    /// <summary>Share of successful replies the router served with the full cascade (the large tier); NaN when none succeeded.</summary>
    public double LargeTierShare => Successes == 0 ? double.NaN : (double)Tiers.GetValueOrDefault(Mesh.Contracts.Tiers.Large) / Successes;

    public double RequestsPerSecond => Successes / Elapsed.TotalSeconds;

    /// <summary>Host CPU milliseconds per successful request: the cost figure least disturbed by the client sharing the machine.</summary>
    public double HostCpuMsPerRequest => Successes == 0 ? double.NaN : HostCpu.TotalMilliseconds / Successes;

    /// <summary>Mean client-observed latency in ms; in a closed loop about concurrency / throughput (Little's law).</summary>
    public double MeanMs => SortedTicks.Length == 0 ? double.NaN : SortedTicks.Average() * 1000.0 / Stopwatch.Frequency;

    /// <summary>Nearest-rank percentile in ms; NaN when nothing succeeded.</summary>
    public double PercentileMs(double p) => BenchStatistics.NearestRankMs(SortedTicks, p);

    /// <summary>Tier shares, largest first, e.g. <c>large 97%, small 3%</c>.</summary>
    public string TierMix() => Successes == 0
        ? "-"
        : string.Join(", ", Tiers.OrderByDescending(t => t.Value).Select(t => $"{t.Key} {Share(t.Value)}"));

    private string Share(long count)
    {
        var percent = 100.0 * count / Successes;
        return percent < 0.5 ? "<1%" : string.Create(CultureInfo.InvariantCulture, $"{percent:F0}%");
    }

    public static PhaseResult Merge(string endpoint, int candidates, TimeSpan elapsed, IReadOnlyList<WorkerResult> workers)
    {
        var ticks = workers.SelectMany(w => w.LatencyTicks).ToArray();
        Array.Sort(ticks);
        var successes = workers.Sum(w => w.Successes);
        var tiers = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (tier, count) in workers.SelectMany(w => w.Tiers))
        {
            tiers[tier] = tiers.GetValueOrDefault(tier) + count;
        }

        double Mean(Func<WorkerResult, double> sum) => successes == 0 ? double.NaN : workers.Sum(sum) / successes;
        return new PhaseResult
        {
            Endpoint = endpoint,
            Candidates = candidates,
            Elapsed = elapsed,
            Successes = successes,
            Errors = workers.Sum(w => w.Errors),
            FirstError = workers.Select(w => w.FirstError).FirstOrDefault(e => e is not null),
            SortedTicks = ticks,
            Tiers = tiers,
            MeanEmbeddingMs = Mean(w => w.EmbeddingMs),
            MeanRankMs = Mean(w => w.RankMs),
            MeanTotalMs = Mean(w => w.TotalMs),
            MeanPrecomputedHits = Mean(w => w.PrecomputedHits),
            ModelVersions = successes == 0 ? (0, 0) : (workers.Min(w => w.MinModelVersion), workers.Max(w => w.MaxModelVersion)),
        };
    }
}
