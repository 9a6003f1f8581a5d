using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Models;
using Mesh.Ranker.Scoring;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Ranker.Tests;

public sealed class ScoreHandlerTests
{
    private static Task<EmbeddedHost> StartAsync() => EmbeddedHost.StartAsync(b => b.AddRanker());

    private static ScoreRequest Request(int candidates, params (string Tier, int Keep)[] cascade) => new()
    {
        RequestId = "r1",
        UserId = "u1",
        UserEmbedding = new float[ItemVectors.Dimension],
        Context = new RankContext { Surface = "feed", Device = "ios", Hour = 10 },
        Candidates = [.. Enumerable.Range(0, candidates).Select(i => new Candidate { AdId = $"a{i}", Category = $"c{i % 5}" })],
        Cascade = [.. cascade.Select(s => new CascadeStage { Tier = s.Tier, Keep = s.Keep })],
    };

    private static Task<ScoreResponse> ScoreAsync(EmbeddedHost host, ScoreRequest request) =>
        host.Services.GetRequiredService<IServiceInvoker>().InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, request);

    /// <summary>A model whose large tier prefers ads by their number, so the expected order is known.</summary>
    private static RankingModel NumberLovingModel(long version)
    {
        var model = RankingModel.Initial.WithVersion(version, 100);
        var hashedBuffer = new int[RankingFeatures.LargeHashed];
        var dense = new float[RankingFeatures.LargeDense];
        for (var i = 0; i < 100; i++)
        {
            foreach (var tier in Tiers.All)
            {
                var hashed = hashedBuffer.AsSpan(0, RankingFeatures.HashedCount(tier));
                RankingFeatures.Write(tier, new FeatureInput([], new RankContext(), $"a{i}", "c", null), hashed, dense.AsSpan(0, RankingFeatures.DenseCount(tier)));
                model.Tier(tier).HashedWeights[hashed[1]] = i * 0.01f; // index 1 is the ad id
            }
        }

        return model;
    }

    [Fact]
    public async Task Score_Cascade_SmallKeepsThenLargeKeepsBestFirst()
    {
        await using var host = await StartAsync();
        host.Services.GetRequiredService<ServingModel>().TryInstall(NumberLovingModel(3));

        var response = await ScoreAsync(host, Request(60, (Tiers.Small, 20), (Tiers.Large, 5)));

        Assert.Equal(3, response.ModelVersion);
        Assert.Equal(["a59", "a58", "a57", "a56", "a55"], response.Items.Select(i => i.AdId));
        Assert.True(response.Items.Zip(response.Items.Skip(1)).All(p => p.First.Score >= p.Second.Score));
        Assert.Equal(20, response.PrecomputedLookups);
        Assert.Equal(0, response.PrecomputedHits);
    }

    [Fact]
    public async Task Score_PrecomputedPresent_FinalStageUsesAndReturnsIt()
    {
        await using var host = await StartAsync();
        var vector = Enumerable.Repeat(0.5f, FoundationModel.Dimension).ToArray();
        await host.State.SaveAsync(Components.PrecomputedStore, StateKeys.Precomputed("u1", "a1"), new PrecomputedRepresentation
        {
            Vector = vector,
            FoundationVersion = FoundationModel.Version,
            EmbeddingVersion = 1,
            ComputedAt = host.Clock.GetUtcNow(),
        });
        await host.State.SaveAsync(Components.PrecomputedStore, StateKeys.Precomputed("u1", "a2"), new PrecomputedRepresentation
        {
            Vector = vector,
            FoundationVersion = FoundationModel.Version + 1,
            EmbeddingVersion = 1,
            ComputedAt = host.Clock.GetUtcNow(),
        });

        var response = await ScoreAsync(host, Request(4, (Tiers.Large, 4)));

        Assert.Equal(1, response.PrecomputedHits);
        Assert.Equal(vector, response.Items.Single(i => i.AdId == "a1").Precomputed);
        Assert.Null(response.Items.Single(i => i.AdId == "a2").Precomputed); // another foundation version: ignored
    }

    [Fact]
    public async Task Score_SmallOnly_NoPrecomputedLookup()
    {
        await using var host = await StartAsync();

        var response = await ScoreAsync(host, Request(10, (Tiers.Small, 3)));

        Assert.Equal(3, response.Items.Count);
        Assert.Equal(0, response.PrecomputedLookups);
        Assert.Equal(0, response.ModelVersion);
        Assert.All(response.Items, i => Assert.Equal(RankingModel.DefaultPrior, i.Score, 6));
    }

    [Theory]
    [InlineData(0, "small", 1)]
    [InlineData(3, "huge", 1)]
    [InlineData(3, "small", 0)]
    public async Task Score_InvalidRequest_400(int candidates, string tier, int keep)
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<InvocationException>(() => ScoreAsync(host, Request(candidates, (tier, keep))));

        Assert.Equal(400, e.StatusCode);
    }

    [Fact]
    public async Task Score_WrongEmbeddingLength_400_EmptyEmbeddingAccepted()
    {
        await using var host = await StartAsync();

        var wrong = await Assert.ThrowsAsync<InvocationException>(() => ScoreAsync(host, Request(2, (Tiers.Small, 1)) with { UserEmbedding = [1, 2] }));
        var unknownUser = await ScoreAsync(host, Request(2, (Tiers.Large, 1)) with { UserEmbedding = [] });

        Assert.Equal(400, wrong.StatusCode);
        Assert.Single(unknownUser.Items);
    }
}
