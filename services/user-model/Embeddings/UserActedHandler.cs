using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Models;
using Microsoft.Extensions.Options;

namespace Mesh.UserModel.Embeddings;

/// <summary>
/// SOAP's asynchronous half: each user event updates the user's activity log (optimistic concurrency on its ETag),
/// recomputes the embedding, stores it with a TTL and publishes it. Serving only ever reads the stored value, so it
/// never waits for this. A redelivered event is recognised by its id in the log and changes nothing.
/// </summary>
public sealed class UserActedHandler(IStateStore state, IEventPublisher publisher, IOptions<UserModelOptions> options, UserModelMetrics metrics, TimeProvider clock)
    : IEventHandler<UserActed>
{
    private readonly UserEmbeddingModel _model = new(options.Value.HalfLife);

    public async Task<DeliveryOutcome> HandleAsync(UserActed data, EventContext context, CancellationToken cancellationToken)
    {
        var o = options.Value;
        List<UserActivity>? history = null;
        for (var attempt = 0; attempt < o.MaxConflictRetries && history is null; attempt++)
        {
            var stored = await state.GetAsync<ActivityLog>(Components.ActivityStore, StateKeys.User(data.UserId), cancellationToken);
            var events = stored?.Value.Events ?? [];
            if (events.Any(e => e.EventId == data.EventId))
            {
                metrics.CountDuplicate();
                return DeliveryOutcome.Success;
            }

            var updated = events.Append(new UserActivity(data.EventId, data.Kind, data.ItemId, data.Category, data.OccurredAt))
                .OrderBy(e => e.OccurredAt)
                .TakeLast(o.HistoryLength)
                .ToList();
            try
            {
                await state.SaveAsync(
                    Components.ActivityStore,
                    StateKeys.User(data.UserId),
                    new ActivityLog(updated),
                    new StateWriteOptions { ETag = stored?.ETag, FirstWrite = stored is null },
                    cancellationToken);
                history = updated;
            }
            catch (StateConflictException)
            {
                metrics.CountConflict();
            }
        }

        if (history is null)
        {
            return DeliveryOutcome.Retry;
        }

        var embedding = new UserEmbedding
        {
            Vector = _model.Compute(history, clock.GetUtcNow()),
            ModelVersion = UserEmbeddingModel.Version,
            ComputedAt = clock.GetUtcNow(),
            EventCount = history.Count,
        };
        await state.SaveAsync(Components.EmbeddingStore, StateKeys.User(data.UserId), embedding, new StateWriteOptions { TimeToLive = o.EmbeddingTimeToLive }, cancellationToken);
        await publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = data.UserId, Embedding = embedding }, cancellationToken);
        metrics.CountEmbedding();
        return DeliveryOutcome.Success;
    }
}

/// <summary>A user's recent activity as kept in the <c>user-activity</c> store, oldest first.</summary>
public sealed record ActivityLog(IReadOnlyList<UserActivity> Events);
