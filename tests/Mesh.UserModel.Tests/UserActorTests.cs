using Mesh.Contracts;
using Mesh.Models;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Serving;
using Mesh.Testing;
using Mesh.UserModel.Embeddings;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.UserModel.Tests;

/// <summary>
/// user-model end to end on the embedded runtime: <c>user-events</c> through the subscription and the user actor to
/// <c>user-embeddings</c>. The actor's own behaviour is <see cref="UserActorBehaviour"/>.
/// </summary>
public sealed class UserActorTests
{
    private const string Observer = "observer";

    private static Task<EmbeddedHost> StartAsync(Action<IServiceCollection>? more = null) => EmbeddedHost.StartAsync(b =>
    {
        more?.Invoke(b.Services);
        b.AddUserModel();
        b.Services.AddSingleton<EmbeddingsSeen>();
        b.Services.AddSubscription<UserEmbeddingUpdated, EmbeddingsSeen>(Observer, Topics.UserEmbeddings);
    });

    private static UserActed Event(string id, string category, DateTimeOffset at, string user = "u1") => UserActorBehaviour.Event(id, category, at, user);

    [Fact]
    public async Task UserActed_ThroughTheUserActor_StoresAndPublishesTheEmbedding()
    {
        await using var host = await StartAsync();

        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        var stored = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;
        var published = Assert.Single(host.Services.GetRequiredService<EmbeddingsSeen>().All);
        Assert.Equal(stored.Vector, published.Embedding.Vector);
        Assert.Equal(1, host.Actors.Reminders);
    }

    [Fact]
    [Trait("Category", "Slow")]
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
        Assert.Equal(1, host.Services.GetRequiredService<ServingModel>().Version);
        Assert.Equal(before.Vector, (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value.Vector);

        host.Clock.Advance(TimeSpan.FromSeconds(30));
        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e2", "c2", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        var after = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value;
        Assert.Equal(1, after.ModelVersion);
        Assert.Equal(["c1", "c2"], after.Recent!.Select(e => e.Category));
        // Served on ONNX Runtime: the new version's tower to float rounding, and not the old one's.
        var expected = RankingModel.FromCheckpoint(checkpoint).EmbedUser("u1", after.Recent!, host.Clock.GetUtcNow());
        Assert.All(expected.Zip(after.Vector), p => Assert.Equal(p.First, p.Second, 1e-5f));
        var old = RankingModel.CreateInitial().EmbedUser("u1", after.Recent!, host.Clock.GetUtcNow());
        Assert.True(old.Zip(after.Vector).Max(p => Math.Abs(p.First - p.Second)) > 1e-3, "the embedding should come from the new tower");
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
        var log = await host.State.GetAsync<ActivityLog>(Components.ActivityStore, host.Actors.StateKey(ActorTypes.User, "u1", UserActor.ActivityKey));
        Assert.Single(log!.Value.Events);
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
