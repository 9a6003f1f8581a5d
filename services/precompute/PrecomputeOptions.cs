using System.ComponentModel.DataAnnotations;

namespace Mesh.Precompute;

/// <summary>Settings of precompute (section <c>Precompute</c>).</summary>
public sealed class PrecomputeOptions
{
    /// <summary>
    /// Which pairs of a served request the speculator predicts for the user's next one: <see cref="SpeculationSource.Candidates"/>
    /// (the request's whole candidate list; the default), <see cref="SpeculationSource.FinalStage"/> (the candidates the
    /// final stage looked up) or <see cref="SpeculationSource.Served"/> (the served ads). Each falls back to the next when
    /// the impression does not carry it.
    /// </summary>
    public SpeculationSource Speculate { get; set; } = SpeculationSource.Candidates;

    /// <summary>
    /// Ads remembered per user as likely future candidates, the most recent kept; it bounds the pairs computed per user.
    /// Default 64 (the standalone driver's candidate pool of 50, and some of what just left it).
    /// </summary>
    [Range(1, 1000)]
    public int AdsPerUser { get; set; } = 64;

    /// <summary>Users remembered; the least recently active are forgotten first. Default 100,000.</summary>
    [Range(1, 10_000_000)]
    public int MaxUsers { get; set; } = 100_000;

    /// <summary>How long a precomputed representation lives in the store. Default 2 minutes.</summary>
    public TimeSpan RepresentationTimeToLive { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>A pair computed more recently than this, from the same embedding, is not computed again. Default 30 s.</summary>
    public TimeSpan RefreshAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Whether a new user embedding makes the user's stored representations stale at once (recomputed from it), rather
    /// than only once they are older than <see cref="RefreshAfter"/>. Default false: the standalone driver's users act
    /// before nearly every request, so recomputing on each new embedding cost 47 foundation-model calls per request
    /// against 12 without, for no more coverage (docs/benchmarks.md, "precompute coverage").
    /// </summary>
    public bool RecomputeOnNewEmbedding { get; set; }

    /// <summary>How often expired representations are counted as used or wasted. Default 10 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Where the speculator takes a user's likely next candidates from.</summary>
public enum SpeculationSource
{
    /// <summary>The request's candidates, the retrieval output (<see cref="Contracts.ImpressionsServed.Candidates"/>).</summary>
    Candidates,

    /// <summary>Every candidate the ranker's final stage looked up (<see cref="Contracts.ImpressionsServed.FinalStage"/>).</summary>
    FinalStage,

    /// <summary>The served ads only (<see cref="Contracts.ImpressionsServed.Items"/>).</summary>
    Served,
}
