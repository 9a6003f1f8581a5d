using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Actors;
using Mesh.Models.Features;
using Mesh.Serving;
using Microsoft.Extensions.Options;

namespace Mesh.UserModel.Embeddings;

/// <summary>
/// SOAP's asynchronous half, one actor per user (type <c>user</c>, id = user id). Turns are one at a time per user, so
/// the activity log needs no ETag retry loop: <see cref="RecordAsync"/> appends the event (a redelivered event is
/// recognised by its id and changes nothing), recomputes the embedding with the user tower of the ranking model serving
/// now (<see cref="ServingModel"/>) over the newest <see cref="FeatureSpace.SequenceLength"/> events, stores it with a
/// TTL and publishes it, and the log is saved when the turn ends. If storing or publishing fails the log is not saved,
/// so the redelivery redoes it all: the embedding of every event is published at least once. A newly published model
/// reaches a user's embedding at the user's next event, asynchronously: nothing is recomputed on the serving path. The
/// <c>expire</c> reminder drops the log of a user idle for <see cref="UserModelOptions.ActivityTimeToLive"/>.
/// </summary>
public sealed class UserActor(
    IActorContext context,
    IStateStore state,
    IEventPublisher publisher,
    IOptions<UserModelOptions> options,
    ServingModel serving,
    UserModelMetrics metrics,
    TimeProvider clock) : IActor
{
    public const string Record = "record";
    public const string ExpireReminder = "expire";

    /// <summary>The <see cref="ActivityLog"/>, in the actor state store (<c>user-activity</c>): <c>user-model||user||{userId}||activity</c>.</summary>
    public const string ActivityKey = "activity";

    private readonly UserModelOptions _options = options.Value;

    public static IServiceCollection Register(IServiceCollection services) =>
        services.AddActor<UserActor>(AppIds.UserModel, ActorTypes.User, m => m
            .Add<UserActed, RecordResult>(Record, (actor, data, cancellationToken) => actor.RecordAsync(data, cancellationToken)));

    public async Task<RecordResult> RecordAsync(UserActed data, CancellationToken cancellationToken)
    {
        var log = await context.State.GetAsync<ActivityLog>(ActivityKey, cancellationToken);
        var events = log?.Events ?? [];
        if (events.Any(e => e.EventId == data.EventId))
        {
            metrics.CountDuplicate();
            return new RecordResult(Duplicate: true, events.Count);
        }

        var now = clock.GetUtcNow();
        var history = events.Append(new UserActivity(data.EventId, data.Kind, data.ItemId, data.Category, data.OccurredAt))
            .OrderBy(e => e.OccurredAt)
            .TakeLast(_options.HistoryLength)
            .ToList();
        context.State.Set(ActivityKey, new ActivityLog(history, now));
        if (log is null)
        {
            // A new (or expired) user: from now on the reminder checks now and then whether the user has gone quiet.
            // Registered once rather than on every event, which would cost a sidecar call each.
            await context.RegisterReminderAsync(ExpireReminder, _options.ActivityTimeToLive, _options.ActivityTimeToLive, cancellationToken: cancellationToken);
        }

        // The tower reads ages as of now; the trainer recomputes it as of the same instant (servedAt - ageMs).
        var model = serving.Current;
        List<RecentEvent> recent = [.. history.TakeLast(FeatureSpace.SequenceLength).Select(e => new RecentEvent { Category = e.Category, Kind = e.Kind, OccurredAt = e.OccurredAt })];
        var embedding = new UserEmbedding
        {
            Vector = model.EmbedUser(data.UserId, recent, now),
            ModelVersion = model.Version,
            ComputedAt = now,
            EventCount = recent.Count,
            Recent = recent,
        };
        await state.SaveAsync(Components.EmbeddingStore, StateKeys.User(data.UserId), embedding, new StateWriteOptions { TimeToLive = _options.EmbeddingTimeToLive }, cancellationToken);
        await publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = data.UserId, Embedding = embedding }, cancellationToken);
        metrics.CountEmbedding();
        return new RecordResult(Duplicate: false, history.Count);
    }

    public async Task OnReminderAsync(string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        if (name != ExpireReminder)
        {
            return;
        }

        // Fires every ActivityTimeToLive, so a log goes between one and two TTLs after the user's last event.
        var log = await context.State.GetAsync<ActivityLog>(ActivityKey, cancellationToken);
        if (log?.UpdatedAt is { } updated && clock.GetUtcNow() - updated < _options.ActivityTimeToLive)
        {
            return;
        }

        if (log is not null)
        {
            context.State.Remove(ActivityKey);
            metrics.CountExpired();
        }

        await context.UnregisterReminderAsync(ExpireReminder, cancellationToken);
    }
}

/// <summary>The answer of <see cref="UserActor.Record"/>: whether the event was already in the log, and the log's length.</summary>
public sealed record RecordResult(bool Duplicate, int EventCount);

/// <summary>A user's recent activity as the user actor keeps it, oldest first; <see cref="UpdatedAt"/> is when it last grew.</summary>
public sealed record ActivityLog(IReadOnlyList<UserActivity> Events, DateTimeOffset? UpdatedAt = null);

/// <summary>One remembered user action; the id recognises a redelivered event.</summary>
public sealed record UserActivity(string EventId, UserActionKind Kind, string ItemId, string Category, DateTimeOffset OccurredAt);
