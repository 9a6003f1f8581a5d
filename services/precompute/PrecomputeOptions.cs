using System.ComponentModel.DataAnnotations;

namespace Mesh.Precompute;

/// <summary>Settings of precompute (section <c>Precompute</c>).</summary>
public sealed class PrecomputeOptions
{
    /// <summary>Ads remembered per user as likely future candidates. Default 32.</summary>
    [Range(1, 1000)]
    public int AdsPerUser { get; set; } = 32;

    /// <summary>Users remembered; the least recently active are forgotten first. Default 100,000.</summary>
    [Range(1, 10_000_000)]
    public int MaxUsers { get; set; } = 100_000;

    /// <summary>How long a precomputed representation lives in the store. Default 2 minutes.</summary>
    public TimeSpan RepresentationTimeToLive { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A pair computed more recently than this, from the same embedding, is not computed again. Default 30 s.</summary>
    public TimeSpan RefreshAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether a new user embedding makes the user's stored representations stale at once (recomputed from it), rather
    /// than only once they are older than <see cref="RefreshAfter"/>. Default true.
    /// </summary>
    public bool RecomputeOnNewEmbedding { get; set; } = true;

    /// <summary>How often expired representations are counted as used or wasted. Default 10 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);
}
