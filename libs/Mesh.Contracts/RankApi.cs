using System.Text.Json;

namespace Mesh.Contracts;

/// <summary>Body of <c>POST /v1/rank</c>.</summary>
public sealed record RankRequest
{
    public const int MaxCandidates = 1000;
    public const int MaxK = 100;
    public const int MaxBudgetMs = 10_000;

    /// <summary>Required. An unknown user is served with the default embedding.</summary>
    public string? UserId { get; init; }

    /// <summary>Optional; defaults apply to missing fields.</summary>
    public RankContext? Context { get; init; }

    /// <summary>Required; 1 to <see cref="MaxCandidates"/> ads, ids unique.</summary>
    public IReadOnlyList<Candidate>? Candidates { get; init; }

    /// <summary>How many ads to return: 1 to <see cref="MaxK"/>, at most the candidate count.</summary>
    public int K { get; init; } = 10;

    /// <summary>Latency budget for this request in milliseconds (1 to <see cref="MaxBudgetMs"/>); the router's default when absent.</summary>
    public int? BudgetMs { get; init; }

    /// <summary>
    /// Early-exit threshold of the final stage, 0 to 1: a candidate whose prediction after a layer is below this share
    /// of the k-th best stops there. 0 never exits; the router's default when absent.
    /// </summary>
    public double? ExitThreshold { get; init; }

    /// <summary>
    /// When the request happened (event time). Replayed logs set it; the router's clock when absent. The impressions
    /// carry it, and the trainer's label window, the embedding TTLs and precompute's TTLs run on it, so that a replay's
    /// result does not depend on its speed.
    /// </summary>
    public DateTimeOffset? OccurredAt { get; init; }
}

/// <summary>Where and how the ads will be shown.</summary>
public sealed record RankContext
{
    public string Surface { get; init; } = "feed";
    public string Device { get; init; } = "web";

    /// <summary>Local hour of day, 0 to 23.</summary>
    public int Hour { get; init; }

    /// <summary>
    /// Request- and user-side features (for example a user's segment), by configured name: a categorical feature is a
    /// string or an array of strings, a numeric one a number. Names the feature space does not configure are ignored
    /// and counted; a value of the wrong kind is a 400 naming the field.
    /// </summary>
    public IReadOnlyDictionary<string, JsonElement>? Features { get; init; }
}

/// <summary>An ad to rank.</summary>
public sealed record Candidate
{
    public string? AdId { get; init; }

    /// <summary>The ad's category, in the same space as item categories of user events.</summary>
    public string? Category { get; init; }

    /// <summary>The ad's features (for example its tags, price or position), by configured name, as in <see cref="RankContext.Features"/>.</summary>
    public IReadOnlyDictionary<string, JsonElement>? Features { get; init; }
}

/// <summary>Reply of <c>POST /v1/rank</c>.</summary>
public sealed record RankResponse
{
    public required string RequestId { get; init; }
    public required IReadOnlyList<RankedAd> Items { get; init; }

    /// <summary>The cascade's final tier.</summary>
    public required string Tier { get; init; }

    public required long ModelVersion { get; init; }
    public required EmbeddingInfo Embedding { get; init; }

    /// <summary>Candidates whose precomputed representation the final stage found.</summary>
    public required int PrecomputedHits { get; init; }

    public required RankTimings Timings { get; init; }
}

public sealed record RankedAd
{
    public required string AdId { get; init; }

    /// <summary>Predicted click probability.</summary>
    public required double Score { get; init; }

    /// <summary>Send this back in <c>POST /v1/feedback</c>.</summary>
    public required string ImpressionId { get; init; }
}

public sealed record EmbeddingInfo
{
    public required EmbeddingSource Source { get; init; }
    public required long ModelVersion { get; init; }
    public required double AgeMs { get; init; }
}

/// <summary>Where the request's time went, in milliseconds.</summary>
public sealed record RankTimings
{
    public required double EmbeddingMs { get; init; }
    public required double RankMs { get; init; }
    public required double TotalMs { get; init; }
}

/// <summary>Body of <c>POST /v1/feedback</c>.</summary>
public sealed record FeedbackRequest
{
    public string? ImpressionId { get; init; }
    public string? UserId { get; init; }
    public string? AdId { get; init; }
    public FeedbackKind Kind { get; init; } = FeedbackKind.Click;

    /// <summary>When it happened; the router's clock when absent.</summary>
    public DateTimeOffset? OccurredAt { get; init; }
}

/// <summary>Body of <c>POST /v1/events</c>.</summary>
public sealed record UserEventRequest
{
    public string? UserId { get; init; }
    public UserActionKind Kind { get; init; } = UserActionKind.View;
    public string? ItemId { get; init; }
    public string? Category { get; init; }
    public DateTimeOffset? OccurredAt { get; init; }
}
