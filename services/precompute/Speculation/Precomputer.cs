using Mesh.Contracts;
using Mesh.Runtime;
using Microsoft.Extensions.Options;

namespace Mesh.Precompute.Speculation;

/// <summary>Computes and stores the foundation representations of the pairs the speculator predicts for a user.</summary>
/// <remarks>
/// Freshness (<see cref="PrecomputeOptions.RefreshAfter"/>) and the ledger's expiry (<see cref="PrecomputeOptions.RepresentationTimeToLive"/>)
/// run on the event time of what triggered the work (the impression's or user event's <c>occurredAt</c>, the embedding's
/// <see cref="UserEmbedding.ComputedAt"/>) when it carries one, else on the clock, so a replayed log precomputes the same
/// pairs at any speed. The store's own TTL stays on the clock: it only bounds storage.
/// </remarks>
public sealed class Precomputer(ActiveUsers users, PrecomputeLedger ledger, IFoundationRunner foundation, IStateStore state, IOptions<PrecomputeOptions> options, TimeProvider clock)
{
    public Task PrecomputeForAsync(string userId, CancellationToken cancellationToken) => PrecomputeForAsync(userId, null, cancellationToken);

    /// <summary>Precomputes the user's predicted pairs as of <paramref name="at"/> (event time; the clock's now when null).</summary>
    public async Task PrecomputeForAsync(string userId, DateTimeOffset? at, CancellationToken cancellationToken)
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
        var now = at ?? clock.GetUtcNow();
        ledger.Observe(now);
        var adsByKey = ads.ToDictionary(a => StateKeys.Precomputed(userId, a.AdId), a => (a.AdId, a.Category), StringComparer.Ordinal);
        var claimed = ledger.Claim(adsByKey.Keys, embedding.ComputedAt, now - o.RefreshAfter, o.RecomputeOnNewEmbedding);
        if (claimed.Count == 0)
        {
            return;
        }

        var written = false;
        var started = clock.GetTimestamp();
        var foundationMs = 0.0;
        try
        {
            var version = foundation.Version;
            var operations = claimed.Select(key =>
            {
                var (adId, adCategory) = adsByKey[key];
                var representation = new PrecomputedRepresentation
                {
                    Vector = foundation.Represent(embedding.Vector, adId, adCategory),
                    FoundationVersion = version,
                    EmbeddingVersion = embedding.ModelVersion,
                    ComputedAt = now,
                    ExpiresAt = now + o.RepresentationTimeToLive,
                };
                return StateOperation.Upsert(key, representation, new StateWriteOptions { TimeToLive = o.RepresentationTimeToLive });
            }).ToList();
            foundationMs = clock.GetElapsedTime(started).TotalMilliseconds;
            await state.TransactAsync(Components.PrecomputedStore, operations, cancellationToken);
            written = true;
        }
        finally
        {
            ledger.Complete(claimed, embedding.ComputedAt, written ? now : null, now + o.RepresentationTimeToLive, foundationMs);
        }
    }
}
