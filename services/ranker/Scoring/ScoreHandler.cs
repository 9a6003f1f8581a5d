using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Models;
using Microsoft.Extensions.Options;

namespace Mesh.Ranker.Scoring;

/// <summary>
/// Serves <c>ranker/score</c>: runs the router's cascade. Each stage scores the survivors of the previous one with its
/// tier and keeps the best; the large tier also reads precomputed foundation representations. One model version
/// scores the whole request, even if a newer one is installed meanwhile.
/// </summary>
public sealed class ScoreHandler(ServingModel serving, IStateStore state, IOptions<RankerOptions> options, RankerMetrics metrics, TimeProvider clock, ILogger<ScoreHandler> logger)
    : IMethodHandler<ScoreRequest, ScoreResponse>
{
    public async Task<ScoreResponse> HandleAsync(ScoreRequest request, CancellationToken cancellationToken)
    {
        Validate(request);
        var model = serving.Current;
        var survivors = request.Candidates.Select(c => new Scored(c.AdId!, c.Category ?? "")).ToArray();
        int hits = 0, lookups = 0;
        foreach (var stage in request.Cascade)
        {
            if (stage.Tier == Tiers.Large)
            {
                lookups += survivors.Length;
                hits += await AttachPrecomputedAsync(request.UserId, survivors, cancellationToken);
            }

            var tier = model.Tier(stage.Tier);
            foreach (var s in survivors)
            {
                s.Score = tier.Predict(new FeatureInput(request.UserEmbedding, request.Context, s.AdId, s.Category, s.Precomputed));
            }

            Array.Sort(survivors, static (a, b) => b.Score.CompareTo(a.Score));
            metrics.CountScored(stage.Tier, survivors.Length);
            survivors = survivors[..Math.Min(stage.Keep, survivors.Length)];
        }

        metrics.CountRequest(hits, lookups);
        return new ScoreResponse
        {
            ModelVersion = model.Version,
            Items = [.. survivors.Select(s => new ScoredCandidate { AdId = s.AdId, Category = s.Category, Score = s.Score, Precomputed = s.Precomputed })],
            PrecomputedHits = hits,
            PrecomputedLookups = lookups,
        };
    }

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

        if (request.UserEmbedding.Length is not (0 or ItemVectors.Dimension))
        {
            throw new InvalidInvocationException($"userEmbedding: {ItemVectors.Dimension} values (or none for an unknown user) required, got {request.UserEmbedding.Length}.");
        }

        if (request.Cascade.Count == 0 || request.Cascade.Any(s => !Tiers.All.Contains(s.Tier) || s.Keep < 1))
        {
            throw new InvalidInvocationException($"cascade: one or more stages with a tier of {string.Join(", ", Tiers.All)} and keep >= 1.");
        }
    }

    /// <summary>Looks the survivors up in the precomputed store; a slow or failing store means misses, never a failed request.</summary>
    private async Task<int> AttachPrecomputedAsync(string userId, Scored[] survivors, CancellationToken cancellationToken)
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
            if (found[i] is { Found: true, Value: { } r } && r.FoundationVersion == FoundationModel.Version && r.Vector.Length == FoundationModel.Dimension)
            {
                survivors[i].Precomputed = r.Vector;
                hits++;
            }
        }

        return hits;
    }

    private sealed class Scored(string adId, string category)
    {
        public string AdId { get; } = adId;
        public string Category { get; } = category;
        public double Score { get; set; }
        public float[]? Precomputed { get; set; }
    }
}
