using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Runtime;
using Mesh.Runtime.Actors;
using Mesh.Serving;
using Mesh.UserModel.Embeddings;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.UserModel.Tests;

/// <summary>
/// What a host of the user actor gives the behaviour suite. Each host's subclass of <see cref="UserActorBehaviour"/>
/// supplies one: the embedded runtime's (<see cref="EmbeddedUserActorBehaviour"/>) and the Dapr SDK's behind a fake
/// daprd (<see cref="DaprUserActorBehaviour"/>).
/// </summary>
public interface IUserActorHost : IAsyncDisposable
{
    /// <summary>How callers reach the actor.</summary>
    IActorInvoker Actors { get; }

    /// <summary>The store the actor writes embeddings to.</summary>
    IStateStore State { get; }

    /// <summary>The clock of the actor and of its host's reminders.</summary>
    FakeTimeProvider Clock { get; }

    /// <summary>Stands in for the actor's <see cref="IEventPublisher"/>.</summary>
    TestPublisher Publisher { get; }

    ServingModel Serving { get; }
    UserModelMetrics Metrics { get; }

    /// <summary>The user's activity log where the host keeps the actor's state, or null.</summary>
    Task<ActivityLog?> ActivityAsync(string userId);

    /// <summary>Deactivates the user's actor, as the runtime does when it is idle or moves.</summary>
    Task DeactivateAsync(string userId);

    /// <summary>Moves the clock and waits for what it set off (reminders, idle scans) to finish.</summary>
    Task AdvanceAsync(TimeSpan by);
}

/// <summary>The user actor's behaviour, whichever runtime hosts it: one suite, one subclass per host.</summary>
public abstract class UserActorBehaviour
{
    private static readonly TimeSpan ActivityTimeToLive = new UserModelOptions().ActivityTimeToLive;

    protected abstract Task<IUserActorHost> StartAsync();

    /// <summary>What a caller sees when the actor refuses a body it cannot read.</summary>
    protected virtual int RefusedBodyStatus => 400;

    public static UserActed Event(string id, string category, DateTimeOffset at, string user = "u1") => new()
    {
        EventId = id,
        UserId = user,
        Kind = UserActionKind.View,
        ItemId = "i-" + id,
        Category = category,
        OccurredAt = at,
    };

    protected static Task<RecordResult> RecordAsync(IUserActorHost host, UserActed data) =>
        host.Actors.InvokeAsync<UserActed, RecordResult>(ActorTypes.User, data.UserId, nameof(IUserActor.RecordAsync), data);

    protected static JsonElement Stats(IUserActorHost host)
    {
        var stats = new Dictionary<string, object?>();
        host.Metrics.Contribute(stats);
        return JsonSerializer.SerializeToElement(stats["userModel"], MeshJson.Options);
    }

    [Fact]
    public async Task Record_NewUser_AppendsStoresWithTtlAndPublishes()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();

        var result = await RecordAsync(host, Event("e1", "c1", now));

        Assert.Equal(new RecordResult(Duplicate: false, EventCount: 1), result);
        var log = await host.ActivityAsync("u1");
        Assert.Equal(("e1", now), (Assert.Single(log!.Events).EventId, log.UpdatedAt));
        var stored = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;
        Assert.Equal(0, stored.ModelVersion); // nothing published yet: the untrained model's tower
        Assert.Equal(FeatureSpace.UserEmbeddingDimension, stored.Vector.Length);
        Assert.Equal(new RecentEvent { Category = "c1", Kind = UserActionKind.View, OccurredAt = now }, Assert.Single(stored.Recent!));
        using (var lease = host.Serving.Acquire())
        {
            Assert.Equal(lease.Model.EmbedUser("u1", stored.Recent!, now), stored.Vector);
        }

        // Served on ONNX Runtime, and the engine's embedding to float rounding: version 0 is the untrained model.
        var engine = RankingModel.CreateInitial().EmbedUser("u1", stored.Recent!, now);
        Assert.All(engine.Zip(stored.Vector), p => Assert.Equal(p.First, p.Second, 1e-5f));
        var published = Assert.Single(host.Publisher.Published);
        Assert.Equal("u1", published.UserId);
        Assert.Equal(stored.Vector, published.Embedding.Vector);

        await host.AdvanceAsync(new UserModelOptions().EmbeddingTimeToLive);
        Assert.Null(await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"));
    }

    [Fact]
    public async Task Record_SameEventAgain_ChangesNothing()
    {
        await using var host = await StartAsync();
        var e = Event("e1", "c1", host.Clock.GetUtcNow());

        await RecordAsync(host, e);
        var again = await RecordAsync(host, e);

        Assert.Equal(new RecordResult(Duplicate: true, EventCount: 1), again);
        Assert.Single((await host.ActivityAsync("u1"))!.Events);
        Assert.Single(host.Publisher.Published);
        Assert.Equal((1L, 1L), (Stats(host).GetProperty("duplicateEvents").GetInt64(), Stats(host).GetProperty("embeddingsPublished").GetInt64()));
    }

    [Fact]
    public async Task Record_ManyEvents_KeepsTheNewestByTimeOfOccurrence()
    {
        await using var host = await StartAsync();
        var start = host.Clock.GetUtcNow();

        // 30 events a minute apart, delivered newest first.
        for (var i = 29; i >= 0; i--)
        {
            await RecordAsync(host, Event($"e{i}", $"c{i}", start.AddMinutes(i)));
        }

        Assert.Equal(Enumerable.Range(14, 16).Select(i => $"e{i}"), (await host.ActivityAsync("u1"))!.Events.Select(e => e.EventId));
        var stored = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;
        Assert.Equal(Enumerable.Range(14, 16).Select(i => $"c{i}"), stored.Recent!.Select(e => e.Category));
    }

    [Fact]
    public async Task Record_NoUserId_Refused400()
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow(), user: "")));

        Assert.Equal(400, e.StatusCode);
        Assert.Empty(host.Publisher.Published);
    }

    [Fact]
    public async Task Record_BodyIsNotAUserActed_Refused()
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() =>
            host.Actors.InvokeAsync<object, RecordResult>(ActorTypes.User, "u1", nameof(IUserActor.RecordAsync), new { eventId = "e1" }));

        Assert.Equal(RefusedBodyStatus, e.StatusCode);
        Assert.Null(await host.ActivityAsync("u1"));
        Assert.Empty(host.Publisher.Published);
    }

    [Fact]
    public async Task Record_ConcurrentCalls_OneTurnAtATimePerUserWhileUsersRunTogether()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();
        host.Publisher.Hold();

        var calls = new[] { RecordAsync(host, Event("e1", "c", now)), RecordAsync(host, Event("e2", "c", now.AddSeconds(1))), RecordAsync(host, Event("e3", "c", now, user: "u2")) };

        // u1's first turn and u2's turn are inside the publish together; u1's second turn waits for u1's first.
        await host.Publisher.InsideAtOnceAsync("u1", "u2");
        host.Publisher.Release();
        await Task.WhenAll(calls);

        Assert.Equal((1, 1), (host.Publisher.MostAtOnce("u1"), host.Publisher.MostAtOnce("u2")));
        Assert.Equal(["e1", "e2"], (await host.ActivityAsync("u1"))!.Events.Select(e => e.EventId));
    }

    [Fact]
    public async Task Record_ManyUsersInterleaved_NoAppendLost()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();
        var random = new Random(20261201);
        var events = Enumerable.Range(0, 72).Select(i => Event($"e{i}", "c", now.AddSeconds(i), user: $"u{i % 6}")).OrderBy(_ => random.Next()).ToList();

        await Task.WhenAll(events.Select(e => Task.Run(() => RecordAsync(host, e))));

        for (var u = 0; u < 6; u++)
        {
            Assert.Equal(12, (await host.ActivityAsync($"u{u}"))!.Events.Count);
        }

        Assert.Equal(72, host.Publisher.Published.Count);
    }

    [Fact]
    public async Task Record_PublishFails_TurnSavesNothingAndTheRetryRecords()
    {
        await using var host = await StartAsync();
        var e = Event("e1", "c1", host.Clock.GetUtcNow());
        host.Publisher.FailNext(1);

        var failed = await Assert.ThrowsAsync<ActorInvocationException>(() => RecordAsync(host, e));

        Assert.Equal(500, failed.StatusCode);
        Assert.Null(await host.ActivityAsync("u1"));
        Assert.Equal(new RecordResult(Duplicate: false, EventCount: 1), await RecordAsync(host, e));
        Assert.Single(host.Publisher.Published);
    }

    [Fact]
    public async Task Record_AfterDeactivation_ReadsTheSavedLog()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();
        await RecordAsync(host, Event("e1", "c1", now));

        await host.DeactivateAsync("u1");
        var result = await RecordAsync(host, Event("e2", "c2", now.AddSeconds(1)));

        Assert.Equal(new RecordResult(Duplicate: false, EventCount: 2), result);
        Assert.Equal(["c1", "c2"], (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value.Recent!.Select(r => r.Category));
    }

    [Fact]
    public async Task ExpireReminder_ActiveUserKept_QuietUserDropped()
    {
        await using var host = await StartAsync();
        await RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow()));
        await host.AdvanceAsync(TimeSpan.FromDays(5));
        await RecordAsync(host, Event("e2", "c1", host.Clock.GetUtcNow()));

        // Day 7: the reminder fires, but the user acted two days ago.
        await host.AdvanceAsync(ActivityTimeToLive - TimeSpan.FromDays(5));
        Assert.Equal(2, (await host.ActivityAsync("u1"))!.Events.Count);

        // Day 14: quiet for nine days; the log goes and so does the reminder.
        await host.AdvanceAsync(ActivityTimeToLive);
        Assert.Null(await host.ActivityAsync("u1"));
        Assert.Equal(1L, Stats(host).GetProperty("activityExpired").GetInt64());

        // A returning user starts afresh, reminder included.
        await RecordAsync(host, Event("e3", "c1", host.Clock.GetUtcNow()));
        Assert.Single((await host.ActivityAsync("u1"))!.Events);
        await host.AdvanceAsync(2 * ActivityTimeToLive);
        Assert.Null(await host.ActivityAsync("u1"));
        Assert.Equal(2L, Stats(host).GetProperty("activityExpired").GetInt64());
    }

    [Fact]
    public async Task ExpireReminder_OtherUsersActivity_DoesNotKeepAQuietUser()
    {
        await using var host = await StartAsync();
        await RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow(), user: "quiet"));
        await RecordAsync(host, Event("e2", "c1", host.Clock.GetUtcNow(), user: "busy"));

        for (var day = 1; day <= 14; day++)
        {
            await host.AdvanceAsync(TimeSpan.FromDays(1));
            await RecordAsync(host, Event($"b{day}", "c1", host.Clock.GetUtcNow(), user: "busy"));
        }

        Assert.Null(await host.ActivityAsync("quiet"));
        Assert.Equal(15, (await host.ActivityAsync("busy"))!.Events.Count);
    }
}
