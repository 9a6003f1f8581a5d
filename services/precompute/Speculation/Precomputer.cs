using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Models;
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
        var operations = new List<StateOperation>();
        var keys = new List<string>();
        foreach (var (adId, category) in ads)
        {
            var key = StateKeys.Precomputed(userId, adId);
            if (ledger.IsFresh(key, embedding.ComputedAt, now - o.RefreshAfter))
            {
                continue;
            }

            var representation = new PrecomputedRepresentation
            {
                Vector = FoundationModel.Represent(embedding.Vector, adId, category),
                FoundationVersion = FoundationModel.Version,
                EmbeddingVersion = embedding.ModelVersion,
                ComputedAt = now,
            };
            operations.Add(StateOperation.Upsert(key, representation, new StateWriteOptions { TimeToLive = o.RepresentationTimeToLive }));
            keys.Add(key);
        }

        if (operations.Count == 0)
        {
            return;
        }

        await state.TransactAsync(Components.PrecomputedStore, operations, cancellationToken);
        ledger.RecordComputed(keys, now, now + o.RepresentationTimeToLive, embedding.ComputedAt);
    }
}
