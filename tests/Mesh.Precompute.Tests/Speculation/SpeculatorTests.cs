using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Precompute.Speculation;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Precompute.Tests.Speculation;

/// <summary>The speculator and its accounting through the handlers, on the embedded runtime and a fake clock.</summary>
public sealed class SpeculatorTests
{
    private sealed class VersionSevenRunner : IFoundationRunner
    {
        public long Version => 7;

        public float[] Represent(ReadOnlySpan<float> userEmbedding, string adId, string category) => new float[FoundationModel.Dimension];
    }

    private static UserEmbedding Embedding(DateTimeOffset at) => new()
    {
        Vector = Enumerable.Repeat(0.1f, ItemVectors.Dimension).ToArray(),
        ModelVersion = 1,
        ComputedAt = at,
    };

    /// <summary>A request whose final stage looked up <paramref name="lookups"/> and served the first <paramref name="served"/>.</summary>
    private static ImpressionsServed Served(string user, DateTimeOffset at, int served, params PrecomputedLookup[] lookups) => new()
    {
        RequestId = Guid.NewGuid().ToString("N"),
        UserId = user,
        ServedAt = at,
        OccurredAt = at,
        Context = new RankContext(),
        ModelVersion = 1,
        Tier = Tiers.Large,
        Embedding = new ServedEmbedding { Source = EmbeddingSource.Store, Vector = [], ModelVersion = 1 },
        CandidateCount = 50,
        Items = [.. lookups.Take(served).Select((l, i) => new ServedImpression { ImpressionId = $"i{i}", AdId = l.AdId, Category = l.Category, Position = i, Score = 0.1 })],
        FinalStage = lookups,
    };

    private static PrecomputedLookup Miss(string ad) => new() { AdId = ad, Category = "c1", Hit = false };

    private static PrecomputedLookup Hit(string ad, DateTimeOffset computedAt) => new() { AdId = ad, Category = "c1", Hit = true, FoundationVersion = 1, ComputedAt = computedAt };

    private static JsonElement Stats(EmbeddedHost host) => Stats(host.Services.GetRequiredService<PrecomputeLedger>());

    private static JsonElement Stats(PrecomputeLedger ledger)
    {
        var stats = new Dictionary<string, object?>();
        ledger.Contribute(stats);
        return JsonSerializer.SerializeToElement(stats["precompute"]);
    }

    private static async Task<PrecomputedRepresentation?> ReadAsync(EmbeddedHost host, string user, string ad) =>
        (await host.State.GetAsync<PrecomputedRepresentation>(Components.PrecomputedStore, StateKeys.Precomputed(user, ad)))?.Value;

    [Fact]
    public async Task Impressions_FinalStage_PrecomputesEveryLookedUpPairNotOnlyTheServed()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddPrecompute());
        var now = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(now) });

        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, 1, Miss("a1"), Miss("a2"), Miss("a3")));
        await host.Broker.WaitForIdleAsync();

        foreach (var ad in new[] { "a1", "a2", "a3" })
        {
            Assert.NotNull(await ReadAsync(host, "u1", ad));
        }

        var s = Stats(host);
        Assert.Equal((3L, 1L, 3.0), (s.GetProperty("computed").GetInt64(), s.GetProperty("requests").GetInt64(), s.GetProperty("foundationCallsPerRequest").GetDouble()));
        Assert.Equal(0, s.GetProperty("coverage").GetDouble());
    }

    [Theory]
    [InlineData(SpeculationSource.Candidates, new[] { "a1", "a2", "a3", "a4", "a5" })]
    [InlineData(SpeculationSource.FinalStage, new[] { "a1", "a2", "a3" })]
    [InlineData(SpeculationSource.Served, new[] { "a1" })]
    public async Task Impressions_Speculate_PrecomputesThePairsOfTheChosenSource(SpeculationSource source, string[] expected)
    {
        await using var host = await EmbeddedHost.StartAsync(b =>
        {
            b.Services.Configure<PrecomputeOptions>(o => o.Speculate = source);
            b.AddPrecompute();
        });
        var now = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(now) });

        // Five candidates; the small tier kept three for the final stage, which served one.
        var served = Served("u1", now, 1, Miss("a1"), Miss("a2"), Miss("a3")) with
        {
            Candidates = [.. new[] { "a1", "a2", "a3", "a4", "a5" }.Select(a => new Candidate { AdId = a, Category = "c1" })],
        };
        await host.Publisher.PublishAsync(Topics.Impressions, served);
        await host.Broker.WaitForIdleAsync();

        var stored = new List<string>();
        foreach (var ad in new[] { "a1", "a2", "a3", "a4", "a5" })
        {
            if (await ReadAsync(host, "u1", ad) is not null)
            {
                stored.Add(ad);
            }
        }

        Assert.Equal(expected, stored);
    }

    [Fact]
    public async Task Impressions_StoredVersion_IsTheRunningFoundationModelsVersion()
    {
        await using var host = await EmbeddedHost.StartAsync(b =>
        {
            b.Services.AddSingleton<IFoundationRunner, VersionSevenRunner>();
            b.AddPrecompute();
        });
        var now = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(now) });

        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, 1, Miss("a1")));
        await host.Broker.WaitForIdleAsync();

        Assert.Equal(7, (await ReadAsync(host, "u1", "a1"))!.FoundationVersion);
    }

    [Fact]
    public async Task Impressions_NextRequestHits_CountsReadsCoverageAndAge()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddPrecompute());
        var now = host.Clock.GetUtcNow();
        await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(now) });
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, 1, Miss("a1"), Miss("a2")));
        await host.Broker.WaitForIdleAsync();

        // 4 s later the next request's final stage finds a1 (computed at now) and not a3, a new candidate.
        var later = now + TimeSpan.FromSeconds(4);
        await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", later, 1, Hit("a1", now), Miss("a3")));
        await host.Broker.WaitForIdleAsync();

        var s = Stats(host);
        Assert.Equal(0.25, s.GetProperty("coverage").GetDouble()); // 1 hit of 4 final-stage lookups over two requests
        Assert.Equal((1L, 1L), (s.GetProperty("reads").GetInt64(), s.GetProperty("used").GetInt64()));
        Assert.Equal(4000.0, s.GetProperty("ageAtUseMs").GetProperty("p50").GetDouble());
        Assert.Equal(3, s.GetProperty("computed").GetInt64()); // a1, a2, then a3; a1 and a2 still fresh
        Assert.Equal(3, s.GetProperty("outstanding").GetInt64());
    }

    [Fact]
    public async Task Stop_LiveRepresentations_SettledAtShutdownUnreadAsWaste()
    {
        PrecomputeLedger ledger;
        await using (var host = await EmbeddedHost.StartAsync(b => b.AddPrecompute()))
        {
            var now = host.Clock.GetUtcNow();
            await host.Publisher.PublishAsync(Topics.UserEmbeddings, new UserEmbeddingUpdated { UserId = "u1", Embedding = Embedding(now) });
            await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now, 1, Miss("a1"), Miss("a2")));
            await host.Broker.WaitForIdleAsync();
            await host.Publisher.PublishAsync(Topics.Impressions, Served("u1", now.AddSeconds(3), 1, Hit("a1", now), Hit("a2", now), Miss("a3")));
            await host.Broker.WaitForIdleAsync();
            ledger = host.Services.GetRequiredService<PrecomputeLedger>();
            Assert.Equal(0, Stats(ledger).GetProperty("settled").GetInt64()); // nothing expired yet: no waste known, one outstanding
            Assert.Equal(1, Stats(ledger).GetProperty("outstandingUnread").GetInt64());
        }

        // Stopping settles what is left: a1 and a2 were read, a3 never was.
        var s = Stats(ledger);
        Assert.Equal((2L, 1L), (s.GetProperty("shutdownUsed").GetInt64(), s.GetProperty("shutdownUnused").GetInt64()));
        Assert.Equal(1.0 / 3, s.GetProperty("wasteRate").GetDouble(), 12);
        Assert.Equal(0, s.GetProperty("outstanding").GetInt64());
    }
}
