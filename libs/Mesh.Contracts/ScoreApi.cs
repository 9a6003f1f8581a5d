namespace Mesh.Contracts;

/// <summary>Invocation <c>ranker/score</c>: the router's request to score candidates through a cascade.</summary>
public sealed record ScoreRequest
{
    public required string RequestId { get; init; }
    public required string UserId { get; init; }
    public required float[] UserEmbedding { get; init; }
    public required RankContext Context { get; init; }
    public required IReadOnlyList<Candidate> Candidates { get; init; }

    /// <summary>Stages in order; each scores what the previous kept and keeps its top <see cref="CascadeStage.Keep"/>.</summary>
    public required IReadOnlyList<CascadeStage> Cascade { get; init; }

    /// <summary>
    /// Event time of the request (<see cref="RankRequest.OccurredAt"/>); the age of a precomputed representation is
    /// measured on it, as precompute stamps representations on event time. Null: the ranker's clock.
    /// </summary>
    public DateTimeOffset? OccurredAt { get; init; }
}

/// <summary>One stage of a cascade: score with <see cref="Tier"/>, keep the best <see cref="Keep"/>.</summary>
public sealed record CascadeStage
{
    public required string Tier { get; init; }
    public required int Keep { get; init; }

    /// <summary>
    /// Multi-head early exit, 0 to 1: after each layer of the tier, a candidate predicted below this share of the
    /// <see cref="Keep"/>-th best still running stops with that layer's score. Null: no early exit.
    /// </summary>
    public double? ExitThreshold { get; init; }
}

/// <summary>Reply of <c>ranker/score</c>: the last stage's survivors, best first.</summary>
public sealed record ScoreResponse
{
    public required long ModelVersion { get; init; }
    public required IReadOnlyList<ScoredCandidate> Items { get; init; }

    /// <summary>Candidates of the final stage whose precomputed representation was found.</summary>
    public required int PrecomputedHits { get; init; }

    /// <summary>Candidates the final stage looked up in the precomputed store.</summary>
    public required int PrecomputedLookups { get; init; }

    /// <summary>Compute spent: candidate-layers evaluated over every stage (a candidate through a 3-layer tier counts 3; early exit lowers it).</summary>
    public long CandidateLayers { get; init; }

    /// <summary>Every candidate the final stage looked up in the <c>precomputed</c> store, in lookup order; null when none was looked up.</summary>
    public IReadOnlyList<PrecomputedLookup>? FinalStage { get; init; }
}

public sealed record ScoredCandidate
{
    public required string AdId { get; init; }
    public required string Category { get; init; }
    public required double Score { get; init; }
    public float[]? Precomputed { get; init; }

    /// <summary>Foundation model version of <see cref="Precomputed"/>; null on a miss.</summary>
    public long? PrecomputedVersion { get; init; }

    /// <summary>Age of <see cref="Precomputed"/> when read, in milliseconds (see <see cref="ServedImpression.PrecomputedAgeMs"/>); null on a miss.</summary>
    public double? PrecomputedAgeMs { get; init; }
}

/// <summary>Model tiers, cheapest first.</summary>
public static class Tiers
{
    public const string Small = "small";
    public const string Large = "large";

    public static readonly IReadOnlyList<string> All = [Small, Large];
}
