using System.Text.Json;
using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Serving;
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
    public async Task UserActed_First_StoresAndPublishesTheTowersEmbedding()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();

        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", now));
        await host.Broker.WaitForIdleAsync();

        var stored = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;
        Assert.Equal(0, stored.ModelVersion); // nothing published yet: the untrained model's tower
        Assert.Equal(FeatureSpace.UserEmbeddingDimension, stored.Vector.Length);
        Assert.Contains(stored.Vector, x => x != 0);
        var recent = Assert.Single(stored.Recent!);
        Assert.Equal(new RecentEvent { Category = "c1", Kind = UserActionKind.View, OccurredAt = now }, recent);
        Assert.Equal(1, stored.EventCount);
        var tower = host.Services.GetRequiredService<ServingModel>().Current;
        Assert.Equal(tower.EmbedUser("u1", stored.Recent!, now), stored.Vector);
        var published = Assert.Single(host.Services.GetRequiredService<EmbeddingsSeen>().All);
        Assert.Equal(stored.Vector, published.Embedding.Vector);
        Assert.Equal(stored.Recent, published.Embedding.Recent);
        Assert.Equal(now, (await ActivityAsync(host))!.UpdatedAt);
    }

    [Fact]
    public async Task ModelPublished_NextEventEmbedsWithTheNewTower()
    {
        await using var host = await StartAsync();
        var start = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", start));
        await host.Broker.WaitForIdleAsync();
        var before = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;

        // Version 1: other weights (another seed), published as the trainer does.
        var next = RankingModel.CreateInitial(seed: 2);
        var checkpoint = next.ToCheckpoint(1, 100);
        await host.State.SaveAsync(Components.ModelStore, StateKeys.RankingCheckpoint(1), new ModelCheckpoint { Version = 1, TrainedExamples = 100, CreatedAt = start, Checkpoint = checkpoint });
        await host.Publisher.PublishAsync(Topics.ModelPublished, new ModelPublished
        {
            ModelName = AppIds.Ranker,
            Version = 1,
            CheckpointKey = StateKeys.RankingCheckpoint(1),
            PublishedAt = start,
            TrainedExamples = 100,
            ValidationNe = 0.9,
            PreviousNe = 1,
        });
        await host.Broker.WaitForIdleAsync();

        // SOAP: nothing is recomputed until the user acts again.
        Assert.Equal(1, host.Services.GetRequiredService<ServingModel>().Current.Version);
        Assert.Equal(before.Vector, (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value.Vector);

        host.Clock.Advance(TimeSpan.FromSeconds(30));
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e2", "c2", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        var after = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;
        Assert.Equal(1, after.ModelVersion);
        Assert.Equal(["c1", "c2"], after.Recent!.Select(e => e.Category));
        Assert.Equal(RankingModel.FromCheckpoint(checkpoint).EmbedUser("u1", after.Recent!, host.Clock.GetUtcNow()), after.Vector);
        Assert.NotEqual(RankingModel.CreateInitial().EmbedUser("u1", after.Recent!, host.Clock.GetUtcNow()), after.Vector);
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
    public async Task UserActed_ManyEvents_HistoryBoundedToTheNewestSixteen()
    {
        await using var host = await StartAsync();
        var start = host.Clock.GetUtcNow();
        // 30 events a minute apart, delivered newest first: the log keeps the newest by time of occurrence.
        for (var i = 29; i >= 0; i--)
        {
            await host.Publisher.PublishAsync(Topics.UserEvents, Event($"e{i}", $"c{i}", start.AddMinutes(i)));
        }

        await host.Broker.WaitForIdleAsync();

        var log = await ActivityAsync(host);
        Assert.Equal(FeatureSpace.SequenceLength, log!.Events.Count);
        Assert.Equal(Enumerable.Range(14, 16).Select(i => $"e{i}"), log.Events.Select(e => e.EventId));
        var stored = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;
        Assert.Equal(Enumerable.Range(14, 16).Select(i => $"c{i}"), stored.Recent!.Select(e => e.Category));
        Assert.Equal(FeatureSpace.SequenceLength, stored.EventCount);
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
