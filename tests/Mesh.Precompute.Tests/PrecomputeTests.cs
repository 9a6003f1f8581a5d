using Mesh.Contracts;
using Mesh.Models;
using Mesh.Precompute.Speculation;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Precompute.Tests;

public sealed class PrecomputeTests
{
    private static Task<EmbeddedHost> StartAsync() => EmbeddedHost.StartAsync(b => b.AddPrecompute());

    private static UserEmbedding Embedding(DateTimeOffset at, float value = 0.1f) => new()
    {
        Vector = Enumerable.Repeat(value, ItemVectors.Dimension).ToArray(),
        ModelVersion = 1,
        ComputedAt = at,
    };

    private static ImpressionsServed Served(string user, DateTimeOffset at, params (string AdId, float[]? Precomputed)[] items) => new()
    {
        RequestId = Guid.NewGuid().ToString("N"),
        UserId = user,
        ServedAt = at,
        Context = new RankContext(),
        ModelVersion = 1,
        Tier = Tiers.Large,
        Embedding = new ServedEmbedding { Source = EmbeddingSource.Store, Vector = [], ModelVersion = 1 },
        CandidateCount = items.Length,
        Items = [.. items.Select((x, i) => new ServedImpression { ImpressionId = $"i{i}", AdId = x.AdId, Category = "c1", Position = i, Score = 0.1, Precomputed = x.Precomputed })],
    };

    private static async Task<PrecomputedRepresentation?> ReadAsync(EmbeddedHost host, string user, string ad) =>
        (await host.State.GetAsync<PrecomputedRepresentation>(Components.PrecomputedStore, StateKeys.Precomputed(user, ad)))?.Value;

    [Fact]
    public async Task Impressions_UserWithEmbedding_PrecomputesServedAdsWithTtl()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(now) });

        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, ("a1", null), ("a2", null)));
        await host.Broker.WaitForIdleAsync();

        var r = await ReadAsync(host, "u1", "a1");
        Assert.NotNull(r);
        Assert.Equal(FoundationModel.Represent(Embedding(now).Vector, "a1", "c1"), r.Vector);
        Assert.Equal(FoundationModel.Version, r.FoundationVersion);
        Assert.NotNull(await ReadAsync(host, "u1", "a2"));

        host.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Null(await ReadAsync(host, "u1", "a1"));
    }

    [Fact]
    public async Task Impressions_NoEmbeddingAnywhere_ComputesNothing()
    {
        await using var host = await StartAsync();

        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", host.Clock.GetUtcNow(), ("a1", null)));
        await host.Broker.WaitForIdleAsync();

        Assert.Null(await ReadAsync(host, "u1", "a1"));
    }

    [Fact]
    public async Task UserActed_ActiveUser_UsesStoredEmbeddingForRecentAds()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, ("a1", null)));
        await host.Broker.WaitForIdleAsync();
        await host.State.SaveAsync(Components.EmbeddingStore, "u1", Embedding(now));

        await host.Publisher.PublishAsync(Topics.UserEvents, new UserActed
        {
            EventId = "e1",
            UserId = "u1",
            Kind = UserActionKind.View,
            ItemId = "i",
            Category = "c1",
            OccurredAt = now,
        });
        await host.Broker.WaitForIdleAsync();

        Assert.NotNull(await ReadAsync(host, "u1", "a1"));
    }

    [Theory]
    [InlineData(true, 1, true)]
    [InlineData(false, 1, false)]
    [InlineData(false, 31, true)]
    public async Task EmbeddingUpdated_NewVector_RecomputedAtOnceOnlyWithRecomputeOnNewEmbedding(bool recomputeOnNew, int secondsLater, bool recomputed)
    {
        await using var host = await EmbeddedHost.StartAsync(b =>
        {
            b.Services.Configure<PrecomputeOptions>(o => o.RecomputeOnNewEmbedding = recomputeOnNew);
            b.AddPrecompute();
        });
        var now = host.Clock.GetUtcNow();
        var first = Embedding(now, 0.1f);
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = first });
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, ("a1", null)));
        await host.Broker.WaitForIdleAsync();

        host.Clock.Advance(TimeSpan.FromSeconds(secondsLater));
        var newer = Embedding(host.Clock.GetUtcNow(), -0.2f);
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = newer });
        await host.Broker.WaitForIdleAsync();

        var expected = recomputed ? newer : first;
        Assert.Equal(FoundationModel.Represent(expected.Vector, "a1", "c1"), (await ReadAsync(host, "u1", "a1"))!.Vector);
    }

    [Fact]
    public async Task Ledger_UsedAndUnused_CountedWhenTheyExpire()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(now) });
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, ("a1", null), ("a2", null)));
        await host.Broker.WaitForIdleAsync();

        // The next request was served with a1's representation only.
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, ("a1", new float[FoundationModel.Dimension])));
        await host.Broker.WaitForIdleAsync();
        var ledger = host.Services.GetRequiredService<PrecomputeLedger>();
        ledger.Sweep(now + TimeSpan.FromMinutes(3));

        var stats = new Dictionary<string, object?>();
        ledger.Contribute(stats);
        var precompute = System.Text.Json.JsonSerializer.SerializeToElement(stats["precompute"]);
        Assert.Equal(2, precompute.GetProperty("computed").GetInt64());
        Assert.Equal(1, precompute.GetProperty("expiredUsed").GetInt64());
        Assert.Equal(1, precompute.GetProperty("expiredUnused").GetInt64());
        Assert.Equal(0.5, precompute.GetProperty("wasteRate").GetDouble());
    }

    [Fact]
    public async Task Impressions_EventTime_FreshnessAndExpiryRunOnItNotTheClock()
    {
        await using var host = await StartAsync();
        var t0 = new DateTimeOffset(2024, 3, 1, 8, 0, 0, TimeSpan.Zero); // a replayed log, years before the clock
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(t0) });
        await host.Broker.WaitForIdleAsync();
        var ledger = host.Services.GetRequiredService<PrecomputeLedger>();
        long Computed()
        {
            var stats = new Dictionary<string, object?>();
            ledger.Contribute(stats);
            return System.Text.Json.JsonSerializer.SerializeToElement(stats["precompute"]).GetProperty("computed").GetInt64();
        }

        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", host.Clock.GetUtcNow(), ("a1", null)) with { OccurredAt = t0 });
        await host.Broker.WaitForIdleAsync();
        Assert.Equal(t0, (await ReadAsync(host, "u1", "a1"))!.ComputedAt);

        // 29 s of event time later (whatever the clock says) the pair is still fresh; 31 s later it is refreshed.
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", host.Clock.GetUtcNow(), ("a1", null)) with { OccurredAt = t0.AddSeconds(29) });
        await host.Broker.WaitForIdleAsync();
        Assert.Equal(1, Computed());
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", host.Clock.GetUtcNow(), ("a1", null)) with { OccurredAt = t0.AddSeconds(31) });
        await host.Broker.WaitForIdleAsync();
        Assert.Equal(2, Computed());
        Assert.Equal(t0.AddSeconds(31), ledger.Latest);
    }

    [Fact]
    public void Ledger_ClaimWhileAnotherComputes_GetsNothingUntilTheWriteEnds()
    {
        var ledger = new PrecomputeLedger();
        var embeddingTime = DateTimeOffset.UnixEpoch;
        var now = embeddingTime + TimeSpan.FromMinutes(1);
        string[] keys = ["u1/a1", "u1/a2"];

        // Two handlers for one user at once (an impression and an embedding update): one computes, one skips.
        var first = ledger.Claim(keys, embeddingTime, now - TimeSpan.FromSeconds(30));
        Assert.Equal(keys, first);
        Assert.Empty(ledger.Claim(keys, embeddingTime, now - TimeSpan.FromSeconds(30)));

        // A newer embedding is not held up by a computation from the older one.
        Assert.Equal(keys, ledger.Claim(keys, embeddingTime + TimeSpan.FromSeconds(1), now - TimeSpan.FromSeconds(30)));

        // A failed write releases the claim without counting; a successful one counts and makes the keys fresh.
        ledger.Complete(first, embeddingTime, computedAt: null, now + TimeSpan.FromMinutes(2));
        var retry = ledger.Claim(keys, embeddingTime, now - TimeSpan.FromSeconds(30));
        Assert.Equal(keys, retry);
        ledger.Complete(retry, embeddingTime, now, now + TimeSpan.FromMinutes(2));
        Assert.Empty(ledger.Claim(keys, embeddingTime, now - TimeSpan.FromSeconds(30)));

        var stats = new Dictionary<string, object?>();
        ledger.Contribute(stats);
        Assert.Equal(2, System.Text.Json.JsonSerializer.SerializeToElement(stats["precompute"]).GetProperty("computed").GetInt64());
    }
}
