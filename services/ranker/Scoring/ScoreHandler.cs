using Mesh.Contracts;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Runtime;
using Mesh.Serving;
using Microsoft.Extensions.Options;

namespace Mesh.Ranker.Scoring;

/// <summary>
/// Serves <c>ranker/score</c>: runs the router's cascade. Each stage scores the survivors of the previous one with its
/// tier (early exit when the stage names a threshold) and keeps the best; the large tier also reads precomputed
/// foundation representations. The served user embedding stands in for the user tower. One model version scores the
/// whole request (a lease on it), even if a newer one is installed meanwhile. Stages go through the
/// <see cref="ScoreBatcher"/>, which scores concurrent requests' stages of one tier in one ONNX Runtime run.
/// </summary>
public sealed class ScoreHandler(ServingModel serving, ScoreBatcher batcher, IStateStore state, IOptions<RankerOptions> options, RankerMetrics metrics, TimeProvider clock, ILogger<ScoreHandler> logger)
    : IMethodHandler<ScoreRequest, ScoreResponse>
{
    public async Task<ScoreResponse> HandleAsync(ScoreRequest request, CancellationToken cancellationToken)
    {
        Validate(request);
        using var lease = serving.Acquire();
        var survivors = request.Candidates.Select(c => new Scored(c.AdId!, c.Category ?? "", c.Features)).ToArray();
        int hits = 0, lookups = 0;
        long candidateLayers = 0;
        PrecomputedLookup[]? finalStage = null;
        foreach (var stage in request.Cascade)
        {
            if (stage.Tier == Tiers.Large)
            {
                lookups += survivors.Length;
                hits += await AttachPrecomputedAsync(request.UserId, request.OccurredAt ?? clock.GetUtcNow(), survivors, cancellationToken);
                finalStage = [.. survivors.Select(s => new PrecomputedLookup
                {
                    AdId = s.AdId,
                    Category = s.Category,
                    Hit = s.Precomputed is not null,
                    FoundationVersion = s.PrecomputedVersion,
                    ComputedAt = s.PrecomputedAt,
                })];
            }

            using var timed = metrics.StartStage(stage.Tier);
            var exit = stage.ExitThreshold is { } threshold ? new EarlyExitRule(stage.Keep, threshold) : (EarlyExitRule?)null;
            var scored = await batcher.ScoreAsync(lease, stage.Tier, Input(request, survivors), exit, cancellationToken);
            for (var i = 0; i < survivors.Length; i++)
            {
                survivors[i].Score = scored.Scores[i];
            }

            candidateLayers += scored.CandidateLayers;
            metrics.CountScored(stage.Tier, survivors.Length, scored.CandidateLayers);
            survivors = [.. survivors.OrderByDescending(s => s.Score).Take(stage.Keep)]; // stable: ties keep request order
        }

        metrics.CountRequest(hits, lookups);
        return new ScoreResponse
        {
            ModelVersion = lease.Version,
            Items = [.. survivors.Select(s => new ScoredCandidate
            {
                AdId = s.AdId,
                Category = s.Category,
                Score = s.Score,
                Precomputed = s.Precomputed,
                PrecomputedVersion = s.PrecomputedVersion,
                PrecomputedAgeMs = s.PrecomputedAgeMs,
            })],
            PrecomputedHits = hits,
            PrecomputedLookups = lookups,
            CandidateLayers = candidateLayers,
            FinalStage = finalStage,
        };
    }

    /// <summary>
    /// The stage's model input: the served embedding (empty for an unknown user, which the model reads as zeros, as the
    /// tower gives for a user with no events), no sequence, the representations attached so far, and the request's and the
    /// candidates' features as the router passed them (the model reads those its version knows).
    /// </summary>
    private RankingInput Input(ScoreRequest request, Scored[] survivors) => new()
    {
        UserId = request.UserId,
        Context = request.Context,
        At = clock.GetUtcNow(),
        UserEmbedding = request.UserEmbedding,
        Ads = [.. survivors.Select(s => new AdInput(s.AdId, s.Category, s.Precomputed, s.Features))],
    };

    private void Validate(ScoreRequest request)
    {
        if (request.Candidates.Count == 0 || request.Candidates.Count > options.Value.MaxCandidates)
        {
            throw new InvalidInvocationException($"candidates: between 1 and {options.Value.MaxCandidates} required, got {request.Candidates.Count}.");
        }

        if (request.Candidates.Any(c => string.IsNullOrEmpty(c.AdId)))
        {
            throw new InvalidInvocationException("candidates: every candidate needs an adId.");
        }

        if (request.UserEmbedding.Length is not (0 or FeatureSpace.UserEmbeddingDimension))
        {
            throw new InvalidInvocationException($"userEmbedding: {FeatureSpace.UserEmbeddingDimension} values (or none for an unknown user) required, got {request.UserEmbedding.Length}.");
        }

        if (request.Cascade.Count == 0 || request.Cascade.Any(s => !Tiers.All.Contains(s.Tier) || s.Keep < 1))
        {
            throw new InvalidInvocationException($"cascade: one or more stages with a tier of {string.Join(", ", Tiers.All)} and keep >= 1.");
        }

        for (var i = 0; i < request.Cascade.Count; i++)
        {
            if (request.Cascade[i].ExitThreshold is { } t && t is not (>= 0 and <= 1))
            {
                throw new InvalidInvocationException($"cascade[{i}].exitThreshold: between 0 and 1 required, got {t}.");
            }
        }
    }

    /// <summary>
    /// Looks the survivors up in the precomputed store; a slow or failing store means misses, never a failed request. A
    /// representation of any foundation-model version is a hit as long as its vector has the length the model reads
    /// (the version is the one precompute stored, logged with the impression); its age is taken at <paramref name="at"/>,
    /// the request's event time, the time base precompute stamps with, and one past its event-time expiry is a miss.
    /// </summary>
    private async Task<int> AttachPrecomputedAsync(string userId, DateTimeOffset at, Scored[] survivors, CancellationToken cancellationToken)
    {
        var keys = survivors.Select(s => StateKeys.Precomputed(userId, s.AdId)).ToArray();
        using var timeout = new CancellationTokenSource(options.Value.PrecomputedTimeout, clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        IReadOnlyList<BulkStateEntry<PrecomputedRepresentation>> found;
        try
        {
            found = await state.GetBulkAsync<PrecomputedRepresentation>(Components.PrecomputedStore, keys, linked.Token);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is OperationCanceledException or StateStoreException or HttpRequestException)
        {
            metrics.CountPrecomputedFailure();
            logger.LogDebug(e, "Precomputed lookup failed; scoring on misses");
            return 0;
        }

        var hits = 0;
        for (var i = 0; i < survivors.Length; i++)
        {
            if (found[i] is { Found: true, Value: { ExpiresAt: { } expiresAt } } && at >= expiresAt)
            {
                metrics.CountPrecomputedExpired();
            }
            else if (found[i] is { Found: true, Value: { } r } && r.Vector is { Length: FeatureSpace.PrecomputedDimension })
            {
                var ageMs = Math.Max(0, (at - r.ComputedAt).TotalMilliseconds);
                survivors[i].Precomputed = r.Vector;
                survivors[i].PrecomputedVersion = r.FoundationVersion;
                survivors[i].PrecomputedAt = r.ComputedAt;
                survivors[i].PrecomputedAgeMs = ageMs;
                metrics.CountPrecomputedHit(r.FoundationVersion, ageMs);
                hits++;
            }
            else if (found[i] is { Found: true })
            {
                metrics.CountPrecomputedRejected();
            }
        }

        return hits;
    }

    private sealed class Scored(string adId, string category, IReadOnlyDictionary<string, System.Text.Json.JsonElement>? features)
    {
        public string AdId { get; } = adId;
        public string Category { get; } = category;
        public IReadOnlyDictionary<string, System.Text.Json.JsonElement>? Features { get; } = features;
        public double Score { get; set; }
        public float[]? Precomputed { get; set; }
        public long? PrecomputedVersion { get; set; }
        public DateTimeOffset? PrecomputedAt { get; set; }
        public double? PrecomputedAgeMs { get; set; }
    }
}
