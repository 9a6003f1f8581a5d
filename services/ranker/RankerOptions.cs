using System.ComponentModel.DataAnnotations;

namespace Mesh.Ranker;

/// <summary>Settings of the ranker (section <c>Ranker</c>).</summary>
public sealed class RankerOptions
{
    /// <summary>Longest a precomputed-store lookup may take before the final stage proceeds on misses. Default 50 ms.</summary>
    public TimeSpan PrecomputedTimeout { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Most candidates one score request may carry. Default 1,000.</summary>
    [Range(1, 100_000)]
    public int MaxCandidates { get; set; } = 1000;

    /// <summary>
    /// Execution targets of the tiers, one model replica and one worker each, batches spread over them: <c>cpu</c>,
    /// <c>cuda:0</c>, <c>cuda:1</c>, ... Empty (the default) is <c>cpu</c>. A CUDA target needs the GPU build
    /// (<c>-p:OnnxRuntimeGpu=true</c>) and CUDA 13 on the host; one that cannot start stops the ranker at start-up unless
    /// <see cref="AllowCpuFallback"/>. (Empty rather than ["cpu"] by default: configuration binding adds to a default
    /// array's items instead of replacing them.)
    /// </summary>
    public string[] Devices { get; set; } = [];

    /// <summary>
    /// Longest a score worker waits, after taking what has queued, for more calls to batch with them. Default 0: a batch
    /// is what queued while the worker was busy, which under load is already many calls, and costs no wait when idle.
    /// </summary>
    public TimeSpan BatchWindow { get; set; } = TimeSpan.Zero;

    /// <summary>Most candidates in one batch (a single larger call runs alone). 1 turns batching off. Default 4,096.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchCandidates { get; set; } = 4096;

    /// <summary>
    /// Score workers per execution target, each running one batch at a time; 0 (the default) is one per GPU and one per
    /// core for the CPU. Several CPU workers, each batch on one thread (<c>Serving:IntraOpThreads</c> 1), beat one worker
    /// splitting each batch's small operators over the cores: in the standalone run on 2 cores, p50 11.6 against 16.6
    /// ms (docs/benchmarks.md).
    /// </summary>
    [Range(0, 64)]
    public int WorkersPerDevice { get; set; }

    /// <summary>The workers of one target: <see cref="WorkersPerDevice"/>, or its default for a GPU or the CPU.</summary>
    public int WorkersFor(bool cuda) => WorkersPerDevice > 0 ? WorkersPerDevice : cuda ? 1 : Environment.ProcessorCount;

    /// <summary>Serve a CUDA target that cannot start on the CPU instead (logged, and shown under <c>ranker.devices</c> in <c>/v1/stats</c>). Default false.</summary>
    public bool AllowCpuFallback { get; set; }
}
