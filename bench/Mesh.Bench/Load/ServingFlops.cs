using System.Text.Json;
using Mesh.Models.Networks;

namespace Mesh.Bench.Load;

/// <summary>
/// The ranker's counters under <c>ranker</c> in <c>/v1/stats</c>, cumulative since the host started: score calls,
/// candidates scored per tier, and the batcher's runs (one ONNX Runtime run of a tier's graph for one or more calls).
/// </summary>
public readonly record struct RankerCounters(long Requests, long ScoredSmall, long ScoredLarge, long Batches, long BatchedRequests, long BatchedCandidates)
{
    /// <summary>The counters in a <c>/v1/stats</c> reply; throws <see cref="KeyNotFoundException"/> when it has no ranker.</summary>
    public static RankerCounters FromStats(JsonElement stats)
    {
        var r = stats.GetProperty("ranker");
        return new(
            r.GetProperty("requests").GetInt64(),
            r.GetProperty("scoredSmall").GetInt64(),
            r.GetProperty("scoredLarge").GetInt64(),
            r.GetProperty("batches").GetInt64(),
            r.GetProperty("batchedRequests").GetInt64(),
            r.GetProperty("batchedCandidates").GetInt64());
    }

    /// <summary>What was counted between <paramref name="before"/> and these counters.</summary>
    public RankerCounters Since(RankerCounters before) => new(
        Requests - before.Requests,
        ScoredSmall - before.ScoredSmall,
        ScoredLarge - before.ScoredLarge,
        Batches - before.Batches,
        BatchedRequests - before.BatchedRequests,
        BatchedCandidates - before.BatchedCandidates);

    /// <summary>Stage calls per ONNX Runtime run; 1 without batching. NaN without runs.</summary>
    public double CallsPerBatch => Batches == 0 ? double.NaN : (double)BatchedRequests / Batches;

    /// <summary>Candidates per ONNX Runtime run. NaN without runs.</summary>
    public double CandidatesPerBatch => Batches == 0 ? double.NaN : (double)BatchedCandidates / Batches;
}

/// <summary>
/// The model FLOPs the ranker served, by the tiers' <see cref="NetworkCost"/> (2 per multiply-add of dense products
/// and attention), and their utilisation of a GEMM rate: the load benchmark's <c>rank_N_serving_mfu</c>.
/// </summary>
public static class ServingFlops
{
    /// <summary>
    /// FLOPs of the scoring in <paramref name="counts"/>: each tier's candidates times its per-candidate cost, plus its
    /// per-request cost once per stage. Every score call the router sends starts with a small-tier stage; a share
    /// <paramref name="largeShare"/> of them (the replies the router served with the large tier) also has a large-tier
    /// stage. Under ONNX Runtime every head of a tier runs for every candidate (early exit only picks the score), so
    /// the full cost is what was computed.
    /// </summary>
    public static double Flops(RankerCounters counts, NetworkCost small, NetworkCost large, double largeShare) =>
        ((double)counts.ScoredSmall * small.FlopsPerCandidate) + ((double)counts.Requests * small.FlopsPerRequest) +
        ((double)counts.ScoredLarge * large.FlopsPerCandidate) + ((double)counts.Requests * largeShare * large.FlopsPerRequest);

    /// <summary>GFLOP/s of <paramref name="flops"/> served over <paramref name="elapsed"/>.</summary>
    public static double Gflops(double flops, TimeSpan elapsed) => flops / elapsed.TotalSeconds / 1e9;

    /// <summary>Served GFLOP/s over the reference GEMM rate (GFLOP/s); NaN when the reference is not positive.</summary>
    public static double Mfu(double servedGflops, double referenceGflops) => referenceGflops > 0 ? servedGflops / referenceGflops : double.NaN;
}
