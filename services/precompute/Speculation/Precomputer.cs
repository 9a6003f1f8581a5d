using Mesh.Contracts;
using Mesh.Models;
using Mesh.Runtime;
using Microsoft.Extensions.Options;

namespace Mesh.Precompute.Speculation;

/// <summary>Computes and stores the foundation representations of the pairs the speculator predicts for a user.</summary>
public sealed class Precomputer(ActiveUsers users, PrecomputeLedger ledger, IStateStore state, IOptions<PrecomputeOptions> options, TimeProvider clock)
{
    public async Task PrecomputeForAsync(string userId, CancellationToken cancellationToken)
    {
        var (ads, embedding) = users.Predict(userId);
        if (ads.Count == 0)
        {
            return;
        }

        embedding ??= (await state.GetAsync<UserEmbedding>(Components.EmbeddingStore, StateKeys.User(userId), cancellationToken))?.Value;
        if (embedding is null)
        {
            // The router serves this user the default embedding; a representation computed now would not match it.
            return;
        }

        var o = options.Value;
        var now = clock.GetUtcNow();
        var adsByKey = ads.ToDictionary(a => StateKeys.Precomputed(userId, a.AdId), a => (a.AdId, a.Category), StringComparer.Ordinal);
        var claimed = ledger.Claim(adsByKey.Keys, embedding.ComputedAt, now - o.RefreshAfter);
        if (claimed.Count == 0)
        {
            return;
        }

        var written = false;
        try
        {
            var operations = claimed.Select(key =>
            {
                var (adId, adCategory) = adsByKey[key];
                var representation = new PrecomputedRepresentation
                {
                    Vector = FoundationModel.Represent(embedding.Vector, adId, adCategory),
                    FoundationVersion = FoundationModel.Version,
                    EmbeddingVersion = embedding.ModelVersion,
                    ComputedAt = now,
                };
                return StateOperation.Upsert(key, representation, new StateWriteOptions { TimeToLive = o.RepresentationTimeToLive });
            }).ToList();
            await state.TransactAsync(Components.PrecomputedStore, operations, cancellationToken);
            written = true;
        }
        finally
        {
            ledger.Complete(claimed, embedding.ComputedAt, written ? now : null, now + o.RepresentationTimeToLive);
        }
    }
}
