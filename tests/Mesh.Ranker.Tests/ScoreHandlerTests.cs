using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Ranker.Scoring;
using Mesh.Runtime;
using Mesh.Serving;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Ranker.Tests;

public sealed class ScoreHandlerTests : IClassFixture<ScoreHandlerTests.LovingModel>
{
    private readonly LovingModel _loving;

    public ScoreHandlerTests(LovingModel loving) => _loving = loving;

    /// <summary>Trained once for the class: a model that clicks on category <c>c3</c> only.</summary>
    public sealed class LovingModel
    {
        public RankingModel Model { get; } = TestModels.CategoryLoving("c3", version: 3);
    }

    private static Task<EmbeddedHost> StartAsync() => EmbeddedHost.StartAsync(b => b.AddRanker());

    private async Task<EmbeddedHost> StartLovingAsync()
    {
        var host = await StartAsync();
        Assert.True(host.Services.GetRequiredService<ServingModel>().TryInstall(_loving.Model));
        return host;
    }

    // Categories c0..c4 in turn: ads a3, a8, a13... are c3.
    private static ScoreRequest Request(int candidates, params (string Tier, int Keep)[] cascade) => new()
    {
        RequestId = "r1",
        UserId = "u1",
        UserEmbedding = new float[FeatureSpace.UserEmbeddingDimension],
        Context = new RankContext { Surface = "feed", Device = "ios", Hour = 10 },
        Candidates = [.. Enumerable.Range(0, candidates).Select(i => new Candidate { AdId = $"a{i}", Category = $"c{i % 5}" })],
        Cascade = [.. cascade.Select(s => new CascadeStage { Tier = s.Tier, Keep = s.Keep })],
    };

    private static ScoreRequest WithExit(ScoreRequest request, double? threshold) =>
        request with { Cascade = [.. request.Cascade.Select(s => s with { ExitThreshold = threshold })] };

    private static Task<ScoreResponse> ScoreAsync(EmbeddedHost host, ScoreRequest request) =>
        host.Services.GetRequiredService<IServiceInvoker>().InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, request);

    [Fact]
    public async Task Score_Cascade_LovedCategoryRanksFirstBestFirst()
    {
        await using var host = await StartLovingAsync();

        var response = await ScoreAsync(host, Request(60, (Tiers.Small, 20), (Tiers.Large, 5)));

        Assert.Equal(3, response.ModelVersion);
        Assert.Equal(5, response.Items.Count);
        Assert.All(response.Items, i => Assert.Equal("c3", i.Category));
        Assert.True(response.Items.Zip(response.Items.Skip(1)).All(p => p.First.Score >= p.Second.Score));
        Assert.Equal(20, response.PrecomputedLookups);
        Assert.Equal(0, response.PrecomputedHits);
        Assert.Equal((60 * 1) + (20 * 3), response.CandidateLayers); // small has one layer, large three
    }

    [Fact]
    public async Task Score_ExitThreshold_SameTopKAndEveryLayerComputedOnOnnxRuntime()
    {
        await using var host = await StartLovingAsync();
        var request = Request(50, (Tiers.Large, 5));

        var full = await ScoreAsync(host, request);
        var never = await ScoreAsync(host, WithExit(request, 0));
        var early = await ScoreAsync(host, WithExit(request, 0.5));

        // The exported graph computes every exit head for every candidate: the rule changes scores, not the compute.
        Assert.Equal([50 * 3, 50 * 3, 50 * 3], new[] { full.CandidateLayers, never.CandidateLayers, early.CandidateLayers });
        Assert.Equal(full.Items.Select(i => i.AdId), early.Items.Select(i => i.AdId));
        Assert.Equal(full.Items.Select(i => i.Score), never.Items.Select(i => i.Score));
        Assert.All(early.Items, i => Assert.Equal("c3", i.Category));

        var stats = new Dictionary<string, object?>();
        host.Services.GetRequiredService<RankerMetrics>().Contribute(stats);
        var ranker = JsonSerializer.SerializeToElement(stats["ranker"]);
        Assert.Equal(full.CandidateLayers + never.CandidateLayers + early.CandidateLayers, ranker.GetProperty("candidateLayers").GetInt64());
    }

    [Fact]
    public async Task Score_PrecomputedOfAnyFoundationVersion_FinalStageUsesItWithVersionAndAge()
    {
        await using var host = await StartAsync();
        var now = host.Clock.GetUtcNow();
        var vector = Enumerable.Repeat(0.5f, FeatureSpace.PrecomputedDimension).ToArray();
        async Task StoreAsync(string ad, float[] v, long version, DateTimeOffset computedAt, DateTimeOffset? expiresAt = null) =>
            await host.State.SaveAsync(Components.PrecomputedStore, StateKeys.Precomputed("u1", ad), new PrecomputedRepresentation
            {
                Vector = v,
                FoundationVersion = version,
                EmbeddingVersion = 1,
                ComputedAt = computedAt,
                ExpiresAt = expiresAt,
            });
        await StoreAsync("a1", vector, FoundationModel.Version, now - TimeSpan.FromSeconds(4));
        await StoreAsync("a2", vector, 7, now - TimeSpan.FromSeconds(10)); // a published foundation model's version
        await StoreAsync("a3", new float[FeatureSpace.PrecomputedDimension - 1], 7, now); // not what the model reads
        await StoreAsync("a4", vector, 7, now - TimeSpan.FromMinutes(3), now - TimeSpan.FromMinutes(1)); // past its event-time TTL

        // The request's event time is 1 s after the clock's now: ages are taken on it.
        var response = await ScoreAsync(host, Request(5, (Tiers.Large, 5)) with { OccurredAt = now + TimeSpan.FromSeconds(1) });

        Assert.Equal(2, response.PrecomputedHits);
        var a1 = response.Items.Single(i => i.AdId == "a1");
        var a2 = response.Items.Single(i => i.AdId == "a2");
        Assert.Equal(vector, a1.Precomputed);
        Assert.Equal(vector, a2.Precomputed);
        Assert.Equal((FoundationModel.Version, 5000.0), (a1.PrecomputedVersion, a1.PrecomputedAgeMs));
        Assert.Equal((7L, 11000.0), (a2.PrecomputedVersion, a2.PrecomputedAgeMs));
        Assert.All(response.Items.Where(i => i.AdId is "a0" or "a3" or "a4"), i => Assert.Equal((true, true, true), (i.Precomputed is null, i.PrecomputedVersion is null, i.PrecomputedAgeMs is null)));

        // The final stage's lookups, hit or not, name what was read.
        Assert.Equal(["a0", "a1", "a2", "a3", "a4"], response.FinalStage!.Select(l => l.AdId).Order());
        Assert.Equal(now - TimeSpan.FromSeconds(10), response.FinalStage!.Single(l => l.AdId == "a2").ComputedAt);
        Assert.Equal([false, true, true, false, false], response.FinalStage!.OrderBy(l => l.AdId).Select(l => l.Hit));

        var stats = new Dictionary<string, object?>();
        host.Services.GetRequiredService<RankerMetrics>().Contribute(stats);
        var precomputed = JsonSerializer.SerializeToElement(stats["ranker"]).GetProperty("precomputed");
        Assert.Equal(0.4, precomputed.GetProperty("coverage").GetDouble());
        Assert.Equal((1L, 1L), (precomputed.GetProperty("rejected").GetInt64(), precomputed.GetProperty("expired").GetInt64()));
        Assert.Equal(1, precomputed.GetProperty("hitsByFoundationVersion").GetProperty("7").GetInt64());
        Assert.Equal(8000.0, precomputed.GetProperty("ageAtUseMs").GetProperty("mean").GetDouble());
        Assert.Equal(11000.0, precomputed.GetProperty("ageAtUseMs").GetProperty("max").GetDouble());
    }

    [Fact]
    public async Task Score_UntrainedSmallOnly_PriorForAllNoPrecomputedLookup()
    {
        await using var host = await StartAsync();

        var response = await ScoreAsync(host, Request(10, (Tiers.Small, 3)));

        Assert.Equal(3, response.Items.Count);
        Assert.Equal(0, response.PrecomputedLookups);
        Assert.Equal(0, response.ModelVersion);
        Assert.Equal(10, response.CandidateLayers);
        Assert.All(response.Items, i => Assert.Equal(Priors.ClickRate, i.Score, 6));
        Assert.Equal(["a0", "a1", "a2"], response.Items.Select(i => i.AdId)); // ties keep the request's order
    }

    [Theory]
    [InlineData(0, "small", 1, null)]
    [InlineData(3, "huge", 1, null)]
    [InlineData(3, "small", 0, null)]
    [InlineData(3, "large", 1, 1.5)]
    [InlineData(3, "large", 1, -0.1)]
    public async Task Score_InvalidRequest_400(int candidates, string tier, int keep, double? exitThreshold)
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<InvocationException>(() => ScoreAsync(host, WithExit(Request(candidates, (tier, keep)), exitThreshold)));

        Assert.Equal(400, e.StatusCode);
    }

    [Fact]
    public async Task Score_WrongEmbeddingLength_400_EmptyEmbeddingAccepted()
    {
        await using var host = await StartAsync();

        var wrong = await Assert.ThrowsAsync<InvocationException>(() => ScoreAsync(host, Request(2, (Tiers.Small, 1)) with { UserEmbedding = [1, 2] }));
        var unknownUser = await ScoreAsync(host, Request(2, (Tiers.Large, 1)) with { UserEmbedding = [] });

        Assert.Equal(400, wrong.StatusCode);
        Assert.Contains("userEmbedding", wrong.Message, StringComparison.Ordinal);
        Assert.Single(unknownUser.Items);
    }

    [Fact]
    public async Task Score_ServedEmbedding_IsWhatTheTiersRead()
    {
        await using var host = await StartLovingAsync();
        var model = _loving.Model;
        var embedding = model.EmbedUser("u1", [new RecentEvent { Category = "c3", Kind = UserActionKind.Engage, OccurredAt = host.Clock.GetUtcNow() }], host.Clock.GetUtcNow());
        var request = Request(5, (Tiers.Large, 5)) with { UserEmbedding = embedding };

        var response = await ScoreAsync(host, request);

        var expected = model.Score(Tiers.Large, new RankingInput
        {
            UserId = "u1",
            Context = request.Context,
            At = host.Clock.GetUtcNow(),
            UserEmbedding = embedding,
            Ads = [.. request.Candidates.Select(c => new AdInput(c.AdId!, c.Category!))],
        }).Scores;
        foreach (var item in response.Items)
        {
            Assert.Equal(expected[int.Parse(item.AdId[1..], System.Globalization.CultureInfo.InvariantCulture)], item.Score, 6);
        }
    }
}
