using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Models;
using Mesh.Testing;
using Mesh.UserModel.Embeddings;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.UserModel.Tests;

public sealed class UserActedHandlerTests
{
    private const string Observer = "observer";

    private static Task<EmbeddedHost> StartAsync(Action<IServiceCollection>? more = null, int maxAttempts = 5) => EmbeddedHost.StartAsync(b =>
    {
        more?.Invoke(b.Services);
        b.AddUserModel();
        b.Services.AddSubscription<UserEmbeddingUpdated, EventRecorder<UserEmbeddingUpdated>>(Observer, Topics.UserEmbeddings);
    }, o => o.MaxAttempts = maxAttempts);

    private static UserActed Event(string id, string category, DateTimeOffset at, string user = "u1") => new()
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
        var published = Assert.Single(host.Services.GetRequiredService<EventRecorder<UserEmbeddingUpdated>>().All);
        Assert.Equal(stored.Value.Vector, published.Embedding.Vector);
    }

    [Fact]
    public async Task UserActed_Redelivered_ChangesNothing()
    {
        await using var host = await StartAsync();
        var e = Event("e1", "c1", host.Clock.GetUtcNow());

        await host.Publisher.PublishAsync(Topics.UserEvents, e);
        await host.Publisher.PublishAsync(Topics.UserEvents, e); // same event, new delivery
        await host.Broker.WaitForIdleAsync();

        Assert.Single(host.Services.GetRequiredService<EventRecorder<UserEmbeddingUpdated>>().All);
        var log = await host.State.GetAsync<ActivityLog>(Components.ActivityStore, "u1");
        Assert.Single(log!.Value.Events);
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

        var log = await host.State.GetAsync<ActivityLog>(Components.ActivityStore, "u1");
        Assert.Equal(64, log!.Value.Events.Count);
        Assert.Equal("last", log.Value.Events[^1].EventId);
        var v = (await host.State.GetAsync<UserEmbedding>(Components.EmbeddingStore, "u1"))!.Value.Vector;
        var toNew = System.Numerics.Tensors.TensorPrimitives.Dot(v, ItemVectors.ForCategory("new"));
        var toOld = System.Numerics.Tensors.TensorPrimitives.Dot(v, ItemVectors.ForCategory("old"));
        Assert.True(toNew > toOld, $"recent category should dominate: new {toNew} vs old {toOld}");
    }

    [Fact]
    public async Task UserActed_ETagConflictOnce_RetriesAndSucceeds()
    {
        await using var host = await StartAsync(s => s.AddSingleton<IStateStore>(sp => new ConflictingStore(sp.GetRequiredService<Dapr.Embedded.EmbeddedStateStore>(), conflicts: 1)));

        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        Assert.Single(host.Services.GetRequiredService<EventRecorder<UserEmbeddingUpdated>>().All);
        Assert.Equal(1, host.Metrics.For(AppIds.UserModel, Topics.UserEvents).Delivered);
    }

    [Fact]
    public async Task UserActed_ConflictsNeverEnd_RetriedThenDeadLettered()
    {
        await using var host = await StartAsync(s => s.AddSingleton<IStateStore>(sp => new ConflictingStore(sp.GetRequiredService<Dapr.Embedded.EmbeddedStateStore>(), conflicts: int.MaxValue)), maxAttempts: 3);

        await host.Publisher.PublishAsync(Topics.UserEvents, Event("e1", "c1", host.Clock.GetUtcNow()));
        await host.Broker.WaitForIdleAsync();

        var counters = host.Metrics.For(AppIds.UserModel, Topics.UserEvents);
        Assert.Equal(3, counters.Retried);
        Assert.Equal(1, counters.DeadLettered);
        Assert.Empty(host.Services.GetRequiredService<EventRecorder<UserEmbeddingUpdated>>().All);
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

    /// <summary>Makes the first <paramref name="conflicts"/> conditional saves of the activity store fail as if another writer won.</summary>
    private sealed class ConflictingStore(IStateStore inner, int conflicts) : IStateStore
    {
        private int _left = conflicts;

        public Task SaveAsync<T>(string store, string key, T value, StateWriteOptions? options = null, CancellationToken cancellationToken = default) =>
            store == Components.ActivityStore && Interlocked.Decrement(ref _left) >= 0
                ? throw new StateConflictException(store, key)
                : inner.SaveAsync(store, key, value, options, cancellationToken);

        public Task<StateEntry<T>?> GetAsync<T>(string store, string key, CancellationToken cancellationToken = default) => inner.GetAsync<T>(store, key, cancellationToken);
        public Task<IReadOnlyList<BulkStateEntry<T>>> GetBulkAsync<T>(string store, IReadOnlyList<string> keys, CancellationToken cancellationToken = default) => inner.GetBulkAsync<T>(store, keys, cancellationToken);
        public Task DeleteAsync(string store, string key, string? etag = null, CancellationToken cancellationToken = default) => inner.DeleteAsync(store, key, etag, cancellationToken);
        public Task TransactAsync(string store, IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default) => inner.TransactAsync(store, operations, cancellationToken);
    }
}
