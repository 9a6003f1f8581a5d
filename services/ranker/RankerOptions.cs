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
}
