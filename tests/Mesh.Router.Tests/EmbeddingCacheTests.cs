using Mesh.Contracts;
using Mesh.Router.Embeddings;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Mesh.Router.Tests;

public sealed class EmbeddingCacheTests
{
    private static readonly RouterOptions Options = new()
    {
        DirectCacheTtl = TimeSpan.FromSeconds(30),
        FailoverCacheTtl = TimeSpan.FromMinutes(30),
        StoreTimeout = TimeSpan.FromMilliseconds(25),
    };

    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = TestClock.Create();
    private readonly ControllableStore _store;
    private readonly EmbeddingCache _cache;

    public EmbeddingCacheTests()
    {
        _store = new ControllableStore(new EmbeddedStateStore(_clock));
        _cache = new EmbeddingCache(_store, Microsoft.Extensions.Options.Options.Create(Options), _clock, NullLogger<EmbeddingCache>.Instance);
    }

    private Task SaveAsync(string userId, float first) => _store.Inner.SaveAsync(Components.EmbeddingStore, userId,
        new UserEmbedding { Vector = [first], ModelVersion = 1, ComputedAt = _clock.GetUtcNow() });

    [Fact]
    public async Task Get_UnknownUser_ServesDefault()
    {
        var served = await _cache.GetAsync("nobody", CancellationToken.None);

        Assert.Equal(EmbeddingSource.Default, served.Source);
        Assert.Empty(served.Vector);
    }

    [Fact]
    public async Task Get_Twice_SecondIsDirectHitWithoutStoreRead()
    {
        await SaveAsync("u", 1);

        var first = await _cache.GetAsync("u", CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(29));
        var second = await _cache.GetAsync("u", CancellationToken.None);

        Assert.Equal(EmbeddingSource.Store, first.Source);
        Assert.Equal(EmbeddingSource.DirectCache, second.Source);
        Assert.Equal(1, _store.Reads);
        Assert.Equal(29_000, second.AgeMs);
    }

    [Fact]
    public async Task Get_StoredWithItsSequence_EveryLevelServesTheSequence()
    {
        RecentEvent[] recent = [new() { Category = "c1", Kind = UserActionKind.View, OccurredAt = _clock.GetUtcNow() }];
        await _store.Inner.SaveAsync(Components.EmbeddingStore, "u", new UserEmbedding { Vector = [1], ModelVersion = 3, ComputedAt = _clock.GetUtcNow(), Recent = recent });

        var fromStore = await _cache.GetAsync("u", CancellationToken.None);
        var direct = await _cache.GetAsync("u", CancellationToken.None);
        _clock.Advance(TimeSpan.FromMinutes(1));
        await _store.Inner.DeleteAsync(Components.EmbeddingStore, "u");
        var failover = await _cache.GetAsync("u", CancellationToken.None);

        Assert.Equal([EmbeddingSource.Store, EmbeddingSource.DirectCache, EmbeddingSource.Failover], [fromStore.Source, direct.Source, failover.Source]);
        Assert.All([fromStore, direct, failover], e => Assert.Equal(recent, e.Recent));
        Assert.Null((await _cache.GetAsync("nobody", CancellationToken.None)).Recent);
    }

    [Fact]
    public async Task Get_AfterDirectTtl_ReadsStoreAgainAndSeesNewValue()
    {
        await SaveAsync("u", 1);
        await _cache.GetAsync("u", CancellationToken.None);
        await SaveAsync("u", 2);

        _clock.Advance(TimeSpan.FromSeconds(30));
        var served = await _cache.GetAsync("u", CancellationToken.None);

        Assert.Equal(EmbeddingSource.Store, served.Source);
        Assert.Equal([2f], served.Vector);
    }

    [Fact]
    public async Task Get_EventTime_DirectTtlRunsOnEventTimeNotTheClock()
    {
        var t0 = new DateTimeOffset(2024, 3, 1, 8, 0, 0, TimeSpan.Zero);
        await _store.Inner.SaveAsync(Components.EmbeddingStore, "u", new UserEmbedding { Vector = [1f], ModelVersion = 1, ComputedAt = t0.AddSeconds(-2) });
        var fromStore = await _cache.GetAsync("u", t0, CancellationToken.None);
        await SaveAsync("u", 2);

        _clock.Advance(TimeSpan.FromHours(1)); // wall time passes; the log's time does not
        var direct = await _cache.GetAsync("u", t0.AddSeconds(29), CancellationToken.None);
        var expired = await _cache.GetAsync("u", t0.AddSeconds(31), CancellationToken.None);

        Assert.Equal((EmbeddingSource.Store, 2000.0), (fromStore.Source, fromStore.AgeMs));
        Assert.Equal((EmbeddingSource.DirectCache, 31_000.0), (direct.Source, direct.AgeMs));
        Assert.Equal(EmbeddingSource.Store, expired.Source);
        Assert.Equal([2f], expired.Vector);
        Assert.Equal(t0.AddSeconds(31), _cache.LatestRead);
    }

    [Fact]
    public async Task Get_StoreFailing_ServesFailover()
    {
        await SaveAsync("u", 1);
        await _cache.GetAsync("u", CancellationToken.None);
        _clock.Advance(TimeSpan.FromMinutes(1));
        _store.Mode = StoreMode.Failing;

        var served = await _cache.GetAsync("u", CancellationToken.None);

        Assert.Equal(EmbeddingSource.Failover, served.Source);
        Assert.Equal([1f], served.Vector);
    }

    [Fact]
    public async Task Get_StoreSlow_ServesFailoverAtTheDeadline()
    {
        await SaveAsync("u", 1);
        await _cache.GetAsync("u", CancellationToken.None);
        _clock.Advance(TimeSpan.FromMinutes(1));
        _store.Mode = StoreMode.Hanging;

        var pending = _cache.GetAsync("u", CancellationToken.None);
        await _store.Entered.Task;
        Assert.False(pending.IsCompleted);
        _clock.Advance(Options.StoreTimeout);
        var served = await pending;

        Assert.Equal(EmbeddingSource.Failover, served.Source);
    }

    [Fact]
    public async Task Get_StoreEmptyAfterTtl_ServesFailover()
    {
        await SaveAsync("u", 1);
        await _cache.GetAsync("u", CancellationToken.None);
        await _store.Inner.DeleteAsync(Components.EmbeddingStore, "u");
        _clock.Advance(TimeSpan.FromMinutes(1));

        Assert.Equal(EmbeddingSource.Failover, (await _cache.GetAsync("u", CancellationToken.None)).Source);
    }

    [Fact]
    public async Task Get_FailoverExpired_ServesDefault()
    {
        await SaveAsync("u", 1);
        await _cache.GetAsync("u", CancellationToken.None);
        _store.Mode = StoreMode.Failing;
        _clock.Advance(Options.FailoverCacheTtl);

        Assert.Equal(EmbeddingSource.Default, (await _cache.GetAsync("u", CancellationToken.None)).Source);
    }

    [Fact]
    public async Task Sweep_OverCapacity_KeepsAtMostMax()
    {
        var cache = new EmbeddingCache(_store, Microsoft.Extensions.Options.Options.Create(new RouterOptions { MaxCachedUsers = 3 }), _clock, NullLogger<EmbeddingCache>.Instance);
        for (var i = 0; i < 10; i++)
        {
            await SaveAsync($"u{i}", i);
            await cache.GetAsync($"u{i}", CancellationToken.None);
        }

        cache.Sweep(_clock.GetUtcNow());
        _store.Mode = StoreMode.Failing;

        var remembered = 0;
        for (var i = 0; i < 10; i++)
        {
            remembered += (await cache.GetAsync($"u{i}", CancellationToken.None)).Source == EmbeddingSource.DirectCache ? 1 : 0;
        }

        Assert.Equal(3, remembered);
    }

    private enum StoreMode
    {
        Normal,
        Failing,
        Hanging,
    }

    /// <summary>The embedded store, made to fail or hang on demand, counting reads.</summary>
    private sealed class ControllableStore(EmbeddedStateStore inner) : IStateStore
    {
        private int _reads;

        public EmbeddedStateStore Inner { get; } = inner;
        public StoreMode Mode { get; set; }
        public int Reads => _reads;
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task<StateEntry<T>?> GetAsync<T>(string store, string key, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _reads);
            switch (Mode)
            {
                case StoreMode.Failing:
                    throw new StateStoreException("store down");
                case StoreMode.Hanging:
                    Entered.TrySetResult();
                    await Task.Delay(Timeout.Infinite, cancellationToken);
                    break;
            }

            return await Inner.GetAsync<T>(store, key, cancellationToken);
        }

        public Task<IReadOnlyList<BulkStateEntry<T>>> GetBulkAsync<T>(string store, IReadOnlyList<string> keys, CancellationToken cancellationToken = default) => Inner.GetBulkAsync<T>(store, keys, cancellationToken);
        public Task SaveAsync<T>(string store, string key, T value, StateWriteOptions? options = null, CancellationToken cancellationToken = default) => Inner.SaveAsync(store, key, value, options, cancellationToken);
        public Task DeleteAsync(string store, string key, string? etag = null, CancellationToken cancellationToken = default) => Inner.DeleteAsync(store, key, etag, cancellationToken);
        public Task TransactAsync(string store, IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default) => Inner.TransactAsync(store, operations, cancellationToken);
    }
}
