using Dapr.Actors;
using Dapr.Actors.Runtime;
using Mesh.Contracts;
using Mesh.Models.Features;
using Mesh.Runtime;
using Mesh.Runtime.Actors;
using Mesh.Serving;
using Microsoft.Extensions.Options;

namespace Mesh.UserModel.Embeddings;

/// <summary>The user actor's interface: what callers invoke by name (<see cref="IActorInvoker"/>) or through an <c>ActorProxy</c>.</summary>
public interface IUserActor : IActor
{
    /// <summary>Records <paramref name="data"/> in the user's activity log and refreshes the user's embedding.</summary>
    Task<RecordResult> RecordAsync(UserActed data, CancellationToken cancellationToken = default);
}

/// <summary>
/// SOAP's asynchronous half, one <c>Dapr.Actors</c> actor per user (type <c>user</c>, id = user id), hosted by the SDK
/// under Dapr and by the embedded runtime in the standalone host. Turns are one at a time per user, so the activity log
/// needs no ETag retry loop: <see cref="RecordAsync"/> appends the event (a redelivered event is recognised by its id
/// and changes nothing), recomputes the embedding with the user tower of the ranking model serving now
/// (<see cref="ServingModel"/>) over the newest <see cref="FeatureSpace.SequenceLength"/> events, stores it with a TTL
/// and publishes it, and the runtime saves the log when the turn ends. If storing or publishing fails the turn throws
/// and the log is not saved, so the redelivery redoes it all: the embedding of every event is published at least once.
/// A newly published model reaches a user's embedding at the user's next event, asynchronously: nothing is recomputed on
/// the serving path. The <c>expire</c> reminder drops the log of a user idle for
/// <see cref="UserModelOptions.ActivityTimeToLive"/>.
/// </summary>
public sealed class UserActor : Actor, IUserActor, IRemindable
{
    public const string ExpireReminder = "expire";

    /// <summary>The <see cref="ActivityLog"/>, in the actor state store (<c>user-activity</c>): <c>user-model||user||{userId}||activity</c>.</summary>
    public const string ActivityKey = "activity";

    private readonly IStateStore _state;
    private readonly IEventPublisher _publisher;
    private readonly UserModelOptions _options;
    private readonly ServingModel _serving;
    private readonly UserModelMetrics _metrics;
    private readonly TimeProvider _clock;

    // stateManager: null under Dapr, where the SDK's state manager (over daprd) stays. The embedded runtime passes its
    // own, over the embedded store. Constructor injection is the SDK's documented seam for an actor's state (the one its
    // unit-testing guide shows), since Actor.StateManager has only a protected setter.
    public UserActor(
        ActorHost host,
        IStateStore state,
        IEventPublisher publisher,
        IOptions<UserModelOptions> options,
        ServingModel serving,
        UserModelMetrics metrics,
        TimeProvider clock,
        IActorStateManager? stateManager = null)
        : base(host)
    {
        _state = state;
        _publisher = publisher;
        _options = options.Value;
        _serving = serving;
        _metrics = metrics;
        _clock = clock;
        if (stateManager is not null)
        {
            StateManager = stateManager;
        }
    }

    public async Task<RecordResult> RecordAsync(UserActed data, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        var log = await StateManager.TryGetStateAsync<ActivityLog>(ActivityKey, cancellationToken);
        var events = log.HasValue ? log.Value.Events : [];
        if (events.Any(e => e.EventId == data.EventId))
        {
            _metrics.CountDuplicate();
            return new RecordResult(Duplicate: true, events.Count);
        }

        var now = _clock.GetUtcNow();
        var history = events.Append(new UserActivity(data.EventId, data.Kind, data.ItemId, data.Category, data.OccurredAt))
            .OrderBy(e => e.OccurredAt)
            .TakeLast(_options.HistoryLength)
            .ToList();
        await StateManager.SetStateAsync(ActivityKey, new ActivityLog(history, now), cancellationToken);
        if (!log.HasValue)
        {
            // A new (or expired) user: from now on the reminder checks now and then whether the user has gone quiet.
            // Registered once rather than on every event, which would cost a sidecar call each.
            await RegisterReminderAsync(ExpireReminder, null, _options.ActivityTimeToLive, _options.ActivityTimeToLive);
        }

        // The tower reads ages on event time, as of the newest event in the log (the clock's now for live events, which
        // the router stamps on arrival), so a replayed log gets the same vectors at any speed. The router measures the
        // served age on the request's event time, and the trainer recomputes the vector as of the same instant
        // (occurredAt - ageMs).
        using var model = _serving.Acquire();
        var asOf = history[^1].OccurredAt;
        List<RecentEvent> recent = [.. history.TakeLast(FeatureSpace.SequenceLength).Select(e => new RecentEvent { Category = e.Category, Kind = e.Kind, OccurredAt = e.OccurredAt })];
        var embedding = new UserEmbedding
        {
            Vector = model.Model.EmbedUser(data.UserId, recent, asOf),
            ModelVersion = model.Version,
            ComputedAt = asOf,
            EventCount = recent.Count,
            Recent = recent,
        };
        await _state.SaveAsync(Components.EmbeddingStore, StateKeys.User(data.UserId), embedding, new StateWriteOptions { TimeToLive = _options.EmbeddingTimeToLive }, cancellationToken);
        await _publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = data.UserId, Embedding = embedding }, cancellationToken);
        _metrics.CountEmbedding();
        return new RecordResult(Duplicate: false, history.Count);
    }

    public async Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        if (reminderName != ExpireReminder)
        {
            return;
        }

        // Fires every ActivityTimeToLive, so a log goes between one and two TTLs after the user's last event.
        var log = await StateManager.TryGetStateAsync<ActivityLog>(ActivityKey);
        if (log.HasValue && log.Value.UpdatedAt is { } updated && _clock.GetUtcNow() - updated < _options.ActivityTimeToLive)
        {
            return;
        }

        if (await StateManager.TryRemoveStateAsync(ActivityKey))
        {
            _metrics.CountExpired();
        }

        await UnregisterReminderAsync(ExpireReminder);
    }
}

/// <summary>The answer of <see cref="IUserActor.RecordAsync"/>: whether the event was already in the log, and the log's length.</summary>
public sealed record RecordResult(bool Duplicate, int EventCount);

/// <summary>A user's recent activity as the user actor keeps it, oldest first; <see cref="UpdatedAt"/> is when it last grew.</summary>
public sealed record ActivityLog(IReadOnlyList<UserActivity> Events, DateTimeOffset? UpdatedAt = null);

/// <summary>One remembered user action; the id recognises a redelivered event.</summary>
public sealed record UserActivity(string EventId, UserActionKind Kind, string ItemId, string Category, DateTimeOffset OccurredAt);
