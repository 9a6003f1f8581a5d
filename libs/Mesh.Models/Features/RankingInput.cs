using System.Text.Json;
using Mesh.Contracts;

namespace Mesh.Models.Features;

/// <summary>
/// One request as the ranking models read it: who, where, when, the user's recent behaviour, and the candidates. Serving
/// and training build it from the same logged values, which is what keeps the two consistent.
/// </summary>
public sealed record RankingInput
{
    public required string UserId { get; init; }

    /// <summary>Where and when; its <see cref="RankContext.Features"/> are the request's configured features, raw.</summary>
    public required RankContext Context { get; init; }

    /// <summary>When the request was served: the reference time of the behaviour sequence's ages.</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>The user's recent organic events, oldest first; the models read the newest <see cref="FeatureSpace.SequenceLength"/>.</summary>
    public IReadOnlyList<RecentEvent> Recent { get; init; } = [];

    /// <summary>
    /// The user embedding serving was given (user-model's, through the router's cache); null means "compute it with the
    /// model's own user tower from <see cref="Recent"/>", which is what training does. Empty means an unknown user.
    /// </summary>
    public float[]? UserEmbedding { get; init; }

    public required IReadOnlyList<AdInput> Ads { get; init; }
}

/// <summary>
/// One candidate: the ad, its category, the precomputed (user, ad) representation when precompute had it, and its
/// configured features as the request gave them (<see cref="Candidate.Features"/>; a model reads those of its
/// <see cref="FeatureSchema"/> and ignores the rest).
/// </summary>
public readonly record struct AdInput(string AdId, string Category, float[]? Precomputed = null, IReadOnlyDictionary<string, JsonElement>? Features = null);
