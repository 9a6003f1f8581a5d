using System.Collections.Concurrent;
using Mesh.Contracts;
using Mesh.Runtime;
using Microsoft.Extensions.Options;

namespace Mesh.Router.Embeddings;

/// <summary>
/// ERCache: reads user embeddings through two caches with their own TTLs. The direct cache (short TTL) skips the
/// store entirely; the store is read with a deadline; the failover cache (long TTL) answers when the store is slow,
/// failing or has nothing; an unknown user gets the default embedding. Every read reports which one answered.
/// </summary>
/// <remarks>
/// The TTLs and the served age run on the request's event time when it gives one (<see cref="RankRequest.OccurredAt"/>),
/// else on the clock: an entry cached by a request of event time t is fresh for requests up to t + TTL, so a replayed
/// log hits and misses the caches the same way at any replay speed. The store's read deadline stays on the clock (it
/// bounds real waiting), and so does the sweep's schedule, but it expires entries against the newest instant a read
/// was made at, not against the clock.
/// </remarks>
public sealed class EmbeddingCache(IStateStore state, IOptions<RouterOptions> options, TimeProvider clock, ILogger<EmbeddingCache> logger, RouterMetrics? metrics = null)
{
    /// <summary>
    /// The vector served to a user nothing is known about: empty, which the models read as their own default
    /// embedding (the router does not know their dimension). The rankers see it in training too.
    /// </summary>
    public static readonly float[] DefaultVector = [];

    private readonly ConcurrentDictionary<string, Cached> _direct = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Cached> _failover = new(StringComparer.Ordinal);

    private long _latestReadTicks = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>The newest instant (event time, else clock) the cache was read at; null before the first read.</summary>
    public DateTimeOffset? LatestRead => Interlocked.Read(ref _latestReadTicks) is var t && t == DateTimeOffset.MinValue.UtcTicks ? null : new DateTimeOffset(t, TimeSpan.Zero);

    public Task<ServedEmbedding> GetAsync(string userId, CancellationToken cancellationToken) => GetAsync(userId, null, cancellationToken);

    /// <summary>
    /// The user's embedding as of <paramref name="at"/> (the request's event time; the clock's now when null), read in
    /// the span <c>embedding read</c> and timed per source in <c>mesh.router.embedding.duration</c>.
    /// </summary>
    public async Task<ServedEmbedding> GetAsync(string userId, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        var started = clock.GetTimestamp();
        using var activity = RouterMetrics.Source.StartActivity("embedding read");
        var served = await ReadAsync(userId, at, cancellationToken);
        activity?.SetTag("mesh.embedding.source", served.Source.ToString());
        metrics?.RecordEmbedding(served.Source, clock.GetElapsedTime(started));
        return served;
    }

    private async Task<ServedEmbedding> ReadAsync(string userId, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        var o = options.Value;
        var now = at ?? clock.GetUtcNow();
        for (var seen = Interlocked.Read(ref _latestReadTicks); now.UtcTicks > seen;)
        {
            var was = Interlocked.CompareExchange(ref _latestReadTicks, now.UtcTicks, seen);
            seen = was == seen ? now.UtcTicks : was;
        }

        if (_direct.TryGetValue(userId, out var direct) && now - direct.CachedAt < o.DirectCacheTtl)
        {
            return Served(direct.Embedding, EmbeddingSource.DirectCache, now);
        }

        try
        {
            using var deadline = new CancellationTokenSource(o.StoreTimeout, clock);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
            var stored = await state.GetAsync<UserEmbedding>(Components.EmbeddingStore, StateKeys.User(userId), linked.Token);
            if (stored is not null)
            {
                var cached = new Cached(stored.Value, now);
                _direct[userId] = cached;
                _failover[userId] = cached;
                return Served(stored.Value, EmbeddingSource.Store, now);
            }
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is OperationCanceledException or StateStoreException or HttpRequestException)
        {
            logger.LogDebug(e, "Embedding store read failed for {UserId}; trying the failover cache", userId);
        }

        if (_failover.TryGetValue(userId, out var failover) && now - failover.CachedAt < o.FailoverCacheTtl)
        {
            return Served(failover.Embedding, EmbeddingSource.Failover, now);
        }

        return new ServedEmbedding { Source = EmbeddingSource.Default, Vector = DefaultVector, ModelVersion = 0 };
    }

    /// <summary>Drops expired entries, then arbitrary ones while a level is over <see cref="RouterOptions.MaxCachedUsers"/>.</summary>
    public void Sweep(DateTimeOffset now)
    {
        var o = options.Value;
        Trim(_direct, now - o.DirectCacheTtl, o.MaxCachedUsers);
        Trim(_failover, now - o.FailoverCacheTtl, o.MaxCachedUsers);
    }

    private static void Trim(ConcurrentDictionary<string, Cached> level, DateTimeOffset oldest, int max)
    {
        foreach (var (key, value) in level)
        {
            if (value.CachedAt < oldest)
            {
                level.TryRemove(new KeyValuePair<string, Cached>(key, value));
            }
        }

        var excess = level.Count - max;
        foreach (var key in level.Keys.Take(Math.Max(0, excess)))
        {
            level.TryRemove(key, out _);
        }
    }

    private static ServedEmbedding Served(UserEmbedding e, EmbeddingSource source, DateTimeOffset now) => new()
    {
        Source = source,
        Vector = e.Vector,
        ModelVersion = e.ModelVersion,
        AgeMs = Math.Max(0, (now - e.ComputedAt).TotalMilliseconds),
        Recent = e.Recent,
    };

    private sealed record Cached(UserEmbedding Embedding, DateTimeOffset CachedAt);
}

/// <summary>Keeps ERCache bounded: sweeps it every 30 s (clock), expiring on <see cref="EmbeddingCache.LatestRead"/>.</summary>
public sealed class EmbeddingCacheSweeper(EmbeddingCache cache, TimeProvider clock) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30), clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                // Entries age on the instants requests are served at (event time in a replay), not on the clock.
                cache.Sweep(cache.LatestRead ?? clock.GetUtcNow());
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
