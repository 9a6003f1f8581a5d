using System.Text.Json;

namespace Mesh.Contracts;

// Events are append-only: a new field is optional; a breaking change is a new event type.
// Every event carries SchemaVersion so a subscriber can tell what it got.

/// <summary>Topic <c>user-events</c>. A user did something organic (not an ad click): viewed or engaged with an item.</summary>
public sealed record UserActed
{
    public int SchemaVersion { get; init; } = 1;
    public required string EventId { get; init; }
    public required string UserId { get; init; }
    public required UserActionKind Kind { get; init; }
    public required string ItemId { get; init; }

    /// <summary>The item's category; items and ads share one category space.</summary>
    public required string Category { get; init; }

    public required DateTimeOffset OccurredAt { get; init; }
}

/// <summary>
/// One of a user's recent organic events, as user-model keeps them: the behaviour sequence that the user tower and the
/// sequence models read. Stored and served with the user's embedding, so the trainer sees the sequence serving used.
/// </summary>
public sealed record RecentEvent
{
    public required string Category { get; init; }
    public UserActionKind Kind { get; init; }
    public required DateTimeOffset OccurredAt { get; init; }
}

public enum UserActionKind
{
    View,
    Engage,
    Search,
}

/// <summary>Topic <c>user-embeddings</c>. user-model recomputed a user's embedding; the same value is in the <c>embeddings</c> store.</summary>
/// <remarks>Schema 2 added <see cref="UserEmbedding.Recent"/>.</remarks>
public sealed record UserEmbeddingUpdated
{
    public int SchemaVersion { get; init; } = 2;
    public required string UserId { get; init; }
    public required UserEmbedding Embedding { get; init; }
}

/// <summary>A user embedding as stored and published: the vector, the model that made it and when.</summary>
public sealed record UserEmbedding
{
    public required float[] Vector { get; init; }

    /// <summary>Version of the user model that computed <see cref="Vector"/>.</summary>
    public required long ModelVersion { get; init; }

    /// <summary>
    /// The event time the vector is as of: the newest <see cref="RecentEvent.OccurredAt"/> it summarises (the sequence's
    /// ages are read from here). For live events, which the router stamps on arrival, that is when it was computed.
    /// </summary>
    public required DateTimeOffset ComputedAt { get; init; }

    /// <summary>How many of the user's events the vector summarises.</summary>
    public int EventCount { get; init; }

    /// <summary>
    /// The events the vector summarises, oldest first (the newest <c>16</c> at most), so that whoever serves the vector
    /// can log the sequence behind it and the trainer can train the user tower on it. Null from older writers.
    /// </summary>
    public IReadOnlyList<RecentEvent>? Recent { get; init; }
}

/// <summary>
/// Topic <c>impressions</c>. The ads one rank request served, with the exact inputs the model saw, so that the
/// trainer learns from what serving used (cache misses, failovers and precompute misses included).
/// </summary>
/// <remarks>
/// Schema 2 added <see cref="ServedEmbedding.Recent"/>; schema 3 <see cref="OccurredAt"/> and the features of the
/// context and of each impression, exactly as served.
/// </remarks>
public sealed record ImpressionsServed
{
    public int SchemaVersion { get; init; } = 3;
    public required string RequestId { get; init; }
    public required string UserId { get; init; }

    /// <summary>The router's clock when it served the request.</summary>
    public required DateTimeOffset ServedAt { get; init; }

    /// <summary>Event time of the request (<see cref="RankRequest.OccurredAt"/>, else <see cref="ServedAt"/>); null from schema 2 writers, read as <see cref="ServedAt"/>.</summary>
    public DateTimeOffset? OccurredAt { get; init; }

    public required RankContext Context { get; init; }

    /// <summary>Ranking model version that produced the scores.</summary>
    public required long ModelVersion { get; init; }

    /// <summary>The cascade's last tier, e.g. <c>large</c>.</summary>
    public required string Tier { get; init; }

    public required ServedEmbedding Embedding { get; init; }
    public required int CandidateCount { get; init; }
    public required IReadOnlyList<ServedImpression> Items { get; init; }

    /// <summary>
    /// The request's candidates (ad id and category only, in request order): the retrieval output, from which
    /// precompute's speculator predicts the pairs of the user's next request. Null from older writers.
    /// </summary>
    public IReadOnlyList<Candidate>? Candidates { get; init; }

    /// <summary>
    /// Every candidate the final stage looked up in the <c>precomputed</c> store (served or not), with what it found:
    /// precompute's speculator learns from it which pairs the next request will look up, and its ledger which stored
    /// representations were read. Null when no stage read the store, or from older writers.
    /// </summary>
    public IReadOnlyList<PrecomputedLookup>? FinalStage { get; init; }
}

/// <summary>One final-stage candidate's read of the <c>precomputed</c> store.</summary>
public sealed record PrecomputedLookup
{
    public required string AdId { get; init; }
    public required string Category { get; init; }

    /// <summary>Whether a representation was found and used.</summary>
    public required bool Hit { get; init; }

    /// <summary>On a hit: the foundation model version that computed it.</summary>
    public long? FoundationVersion { get; init; }

    /// <summary>On a hit: <see cref="PrecomputedRepresentation.ComputedAt"/> of what was read, which names the computation read.</summary>
    public DateTimeOffset? ComputedAt { get; init; }
}

/// <summary>The user embedding a request was served with, and where it came from.</summary>
public sealed record ServedEmbedding
{
    public required EmbeddingSource Source { get; init; }
    public required float[] Vector { get; init; }

    /// <summary>User-model version of the vector; 0 for the default embedding.</summary>
    public required long ModelVersion { get; init; }

    /// <summary>Age of the vector when served, in milliseconds; 0 for the default embedding.</summary>
    public double AgeMs { get; init; }

    /// <summary>
    /// The events the vector summarises (<see cref="UserEmbedding.Recent"/>), oldest first; null for the default
    /// embedding. The trainer recomputes the user tower from them, as of <c>servedAt - ageMs</c>.
    /// </summary>
    public IReadOnlyList<RecentEvent>? Recent { get; init; }
}

/// <summary>Where the router found a user embedding (ERCache outcome).</summary>
public enum EmbeddingSource
{
    /// <summary>Direct cache, younger than its short TTL: no store read.</summary>
    DirectCache,

    /// <summary>Read from the embedding store.</summary>
    Store,

    /// <summary>The store was slow, failing or empty; the long-TTL failover cache answered.</summary>
    Failover,

    /// <summary>Nothing known about the user: the default embedding.</summary>
    Default,
}

/// <summary>One served ad of a request.</summary>
public sealed record ServedImpression
{
    /// <summary>Identifies this impression; feedback refers to it.</summary>
    public required string ImpressionId { get; init; }

    public required string AdId { get; init; }
    public required string Category { get; init; }

    /// <summary>0-based position in the response.</summary>
    public required int Position { get; init; }

    /// <summary>Predicted click probability the ranker served.</summary>
    public required double Score { get; init; }

    /// <summary>Precomputed (user, ad) representation the final stage used; null when precompute missed.</summary>
    public float[]? Precomputed { get; init; }

    /// <summary>Version of the foundation model that computed <see cref="Precomputed"/> (as precompute stored it); null on a miss or from older writers.</summary>
    public long? PrecomputedVersion { get; init; }

    /// <summary>
    /// Age of <see cref="Precomputed"/> when the ranker read it, in milliseconds of event time (the request's
    /// <c>occurredAt</c> minus the representation's <see cref="PrecomputedRepresentation.ComputedAt"/>); null on a miss.
    /// </summary>
    public double? PrecomputedAgeMs { get; init; }

    /// <summary>The candidate's configured features as the model read them (<see cref="Candidate.Features"/>, unknown names dropped); null for none.</summary>
    public IReadOnlyDictionary<string, JsonElement>? Features { get; init; }
}

/// <summary>
/// Topic <c>feedback</c>. What a user did with a served impression. A click or a conversion labels it positive at once,
/// an explicit <see cref="FeedbackKind.NoClick"/> negative at once; an impression with neither inside the label window
/// (event time) is a negative.
/// </summary>
public sealed record FeedbackReceived
{
    public int SchemaVersion { get; init; } = 1;
    public required string FeedbackId { get; init; }
    public required string ImpressionId { get; init; }
    public required string UserId { get; init; }
    public required string AdId { get; init; }
    public FeedbackKind Kind { get; init; } = FeedbackKind.Click;
    public required DateTimeOffset OccurredAt { get; init; }
}

public enum FeedbackKind
{
    Click,

    /// <summary>The impression was seen and not clicked (a log that knows its negatives, or a skip).</summary>
    NoClick,

    /// <summary>The user converted after the impression; counts as a click for the click label.</summary>
    Conversion,
}

/// <summary>Topic <c>model-published</c>. The trainer saved a checkpoint that was not worse than the one serving; load it.</summary>
public sealed record ModelPublished
{
    public int SchemaVersion { get; init; } = 1;

    /// <summary>Model family, one of <see cref="ModelNames"/>: <c>ranker</c> or <c>foundation</c>; a reader ignores the families it does not load.</summary>
    public required string ModelName { get; init; }

    public required long Version { get; init; }

    /// <summary>Key of the checkpoint in the <c>models</c> store.</summary>
    public required string CheckpointKey { get; init; }

    public required DateTimeOffset PublishedAt { get; init; }

    /// <summary>Labelled examples the version was trained on, in total.</summary>
    public required long TrainedExamples { get; init; }

    /// <summary>NE of this version on the held-out window that admitted it (progressive validation).</summary>
    public required double ValidationNe { get; init; }

    /// <summary>NE of the version it replaces on the same window (version 0 is the untrained prior).</summary>
    public required double PreviousNe { get; init; }

    /// <summary>
    /// Keys of the version's ONNX graphs in the <c>models</c> store, by graph name: <c>user-tower</c> and one per tier.
    /// Null from a trainer that predates ONNX; readers then build the graphs from the checkpoint.
    /// </summary>
    public IReadOnlyDictionary<string, string>? GraphKeys { get; init; }
}
