using System.Text.Json;
using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Dapr.Embedded;
using Mesh.Models;
using Mesh.Testing;
using Mesh.UserModel.Embeddings;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.UserModel.Tests;

/// <summary>user-model on the embedded runtime: <c>user-events</c> through the subscription into the user actors.</summary>
public sealed class UserActorTests
{
    private const string Observer = "observer";

    private static Task<EmbeddedHost> StartAsync(Action<IServiceCollection>? more = null, int maxAttempts = 5) => EmbeddedHost.StartAsync(b =>
    {
        more?.Invoke(b.Services);
        b.AddUserModel();
        b.Services.AddSingleton<EmbeddingsSeen>();
        b.Services.AddSubscription<UserEmbeddingUpdated, EmbeddingsSeen>(Observer, Topics.UserEmbeddings);
    }, o => o.MaxAttempts = maxAttempts);

    internal static UserActed Event(string id, string category, DateTimeOffset at, string user = "u1") => new()
    {
        EventId = id,
        UserId = user,
        Kind = UserActionKind.View,
        ItemId = "i-" + id,
        Category = category,
        OccurredAt = at,
    };

    [Fact]
    public async Task UserActed_First_StoresAndPublishesEmbedding()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();

        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", now));
        await host.Broker.WaitForIdleAsync();

        var stored = await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1");
        Assert.NotNull(stored);
        Assert.Equal(UserEmbeddingModel.Version, stored.Value.ModelVersion);
        Assert.Equal(ItemVectors.ForCategory("c1"), stored.Value.Vector);
        var published = Assert.Single(host.Services.GetRequiredService<EmbeddingsSeen>().All);
        Assert.Equal(stored.Value.Vector, published.Embedding.Vector);
        Assert.Equal(now, (await ActivityAsync(host))!.UpdatedAt);
    }

    [Fact]
    public async Task UserActed_Redelivered_CountedOnceAndChangesNothing()
    {
        await using var host = await StartAsync();
        var e = Event("e1", "c1", host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.UserEvents, e);
        await host.Publisher.PublishAsync(Topics.UserEvents, e); // same event, new delivery (a new CloudEvent id)
        await host.Broker.WaitForIdleAsync();

        Assert.Single(host.Services.GetRequiredService<EmbeddingsSeen>().All);
        Assert.Single((await ActivityAsync(host))!.Events);
        Assert.Equal(1L, Stats(host).GetProperty("duplicateEvents").GetInt64());
        Assert.Equal(1L, Stats(host).GetProperty("embeddingsPublished").GetInt64());
    }

    [Fact]
    public async Task UserActed_ManyEvents_HistoryBoundedAndRecentWeighMore()
    {
        await using var host = await StartAsync();
        var start = host.Clock.GetUtcNow();
        // 70 events on "old" in the first 70 minutes, then 10 on "new" two hours later; half-life 30 minutes.
        for (var i = 0; i < 80; i++)
        {
            await host.Publisher.PublishAsync(Topics.UserEvents, Event($"e{i}", i < 70 ? "old" : "new", start.AddMinutes(i < 70 ? i : 130 + i)));
        }

        host.Clock.Advance(TimeSpan.FromMinutes(210));
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("last", "new", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        var log = await ActivityAsync(host);
        Assert.Equal(64, log!.Events.Count);
        Assert.Equal("last", log.Events[^1].EventId);
        var v = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value.Vector;
        var toNew = System.Numerics.Tensors.TensorPrimitives.Dot(v, ItemVectors.ForCategory("new"));
        var toOld = System.Numerics.Tensors.TensorPrimitives.Dot(v, ItemVectors.ForCategory("old"));
        Assert.True(toNew > toOld, $"recent category should dominate: new {toNew} vs old {toOld}");
    }

    [Fact]
    public async Task UserActed_ManyUsersConcurrently_EachLogComplete()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();

        // Interleaved users: one turn at a time per user, no lost appends, and no ETag retries needed.
        for (var i = 0; i < 40; i++)
        {
            await host.Publisher.PublishAsync(Topics.UserEvents, Event($"e{i}", "c", now.AddSeconds(i), user: $"u{i % 4}"));
        }

        await host.Broker.WaitForIdleAsync();

        for (var u = 0; u < 4; u++)
        {
            Assert.Equal(10, (await ActivityAsync(host, $"u{u}"))!.Events.Count);
        }
    }

    [Fact]
    public async Task PublishFailsOnce_RetriedAndTheEventIsRecordedOnce()
    {
        await using var host = await StartAsync(s => s.AddSingleton<IEventPublisher>(sp => new FailingPublisher(sp.GetRequiredService<EmbeddedBroker>(), Topics.UserEmbeddings, failures: 1)));

        await host.Broker.PublishAsync(Topics.UserEvents, Event("e1", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        // The failed turn saved no log, so the redelivery was not taken for a duplicate and published the embedding.
        var counters = host.Metrics.For(AppIds.UserModel, Topics.UserEvents);
        Assert.Equal((1, 1), (counters.Retried, counters.Delivered));
        Assert.Single(host.Services.GetRequiredService<EmbeddingsSeen>().All);
        Assert.Single((await ActivityAsync(host))!.Events);
        Assert.Equal(0L, Stats(host).GetProperty("duplicateEvents").GetInt64());
    }

    [Fact]
    public async Task UserActed_NoUserId_DeadLettered()
    {
        await using var host = await StartAsync();

        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", host.Clock.GetUtcNow(), user: ""));
        await host.Broker.WaitForIdleAsync();

        var counters = host.Metrics.For(AppIds.UserModel, Topics.UserEvents);
        Assert.Equal((0, 1), (counters.Retried, counters.DeadLettered));
    }

    [Fact]
    public async Task Embedding_AfterTtl_Expires()
    {
        await using var host = await StartAsync();
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        host.Clock.Advance(TimeSpan.FromDays(7));

        Assert.Null(await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"));
    }

    [Fact]
    public async Task Activity_UserQuietForTtl_ExpireReminderDropsTheLog()
    {
        await using var host = await StartAsync();
        var actors = host.Actors;
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();
        Assert.Equal(1, actors.Reminders);

        await AdvanceAsync(host, TimeSpan.FromDays(5));
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e2", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        // Day 7: the reminder fires, but the user acted two days ago.
        await AdvanceAsync(host, TimeSpan.FromDays(2));
        Assert.Equal(2, (await ActivityAsync(host))!.Events.Count);

        // Day 14: quiet for nine days; the log goes and so does the reminder.
        await AdvanceAsync(host, TimeSpan.FromDays(7));
        Assert.Null(await ActivityAsync(host));
        Assert.Equal(0, actors.Reminders);
        Assert.Equal(1L, Stats(host).GetProperty("activityExpired").GetInt64());

        // A returning user starts afresh, reminder included.
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e3", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();
        Assert.Single((await ActivityAsync(host))!.Events);
        Assert.Equal(1, actors.Reminders);
    }

    private static async Task AdvanceAsync(EmbeddedHost host, TimeSpan by)
    {
        host.Clock.Advance(by);
        await host.Actors.WaitForIdleAsync();
    }

    private static async Task<ActivityLog?> ActivityAsync(EmbeddedHost host, string user = "u1")
    {
        var key = host.Actors.StateKey(ActorTypes.User, user, UserActor.ActivityKey);
        Assert.Equal($"user-model||user||{user}||activity", key);
        return (await host.State.GetAsync<ActivityLog>(Components.ActivityStore, key))?.Value;
    }

    private static JsonElement Stats(EmbeddedHost host)
    {
        var stats = new Dictionary<string, object?>();
        host.Services.GetRequiredService<UserModelMetrics>().Contribute(stats);
        return JsonSerializer.SerializeToElement(stats["userModel"], MeshJson.Options);
    }

    public sealed class EmbeddingsSeen : IEventHandler<UserEmbeddingUpdated>
    {
        private readonly List<UserEmbeddingUpdated> _all = [];

        public IReadOnlyList<UserEmbeddingUpdated> All
        {
            get
            {
                lock (_all)
                {
                    return [.. _all];
                }
            }
        }

        public Task<DeliveryOutcome> HandleAsync(UserEmbeddingUpdated data, EventContext context, CancellationToken cancellationToken)
        {
            lock (_all)
            {
                _all.Add(data);
            }

            return Task.FromResult(DeliveryOutcome.Success);
        }
    }

    /// <summary>Fails the first <paramref name="failures"/> publishes to <paramref name="failingTopic"/>, as a sidecar refusing them would.</summary>
    private sealed class FailingPublisher(IEventPublisher inner, string failingTopic, int failures) : IEventPublisher
    {
        private int _left = failures;

        public Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default) =>
            topic == failingTopic && Interlocked.Decrement(ref _left) >= 0
                ? throw new InvalidOperationException("publish refused")
                : inner.PublishAsync(topic, data, cancellationToken);
    }
}
