using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Ranker.Scoring;
using Mesh.Runtime;
using Mesh.Serving.Tests;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Ranker.Tests;

public sealed class ScoreBatcherTests
{
    [Fact]
    public async Task Run_CallsOfTwoTiersAndTwoVersions_OneRunPerVersionAndTierEachCallItsOwnScores()
    {
        using var serving = Scenes.Serving();
        var rng = new Random(1);
        using var v0 = serving.Acquire();
        Assert.True(serving.TryInstall(TestModels.CategoryLoving("c3", version: 1)));
        using var v1 = serving.Acquire();
        var calls = new[]
        {
            new ScoreBatcher.Pending(v0, Tiers.Small, Scenes.Request(rng, 4), null),
            new ScoreBatcher.Pending(v0, Tiers.Large, Scenes.Request(rng, 6), new EarlyExitRule(2, 0.9)),
            new ScoreBatcher.Pending(v0, Tiers.Small, Scenes.Request(rng, 3), null),
            new ScoreBatcher.Pending(v1, Tiers.Small, Scenes.Request(rng, 5), null),
        };
        var metrics = new RankerMetrics(serving);

        ScoreBatcher.Run(calls, replica: 0, metrics);

        foreach (var call in calls)
        {
            Assert.True(call.Done.Task.IsCompletedSuccessfully);
            Assert.Equal(call.Lease.Model.Score(call.Tier, call.Request, call.Exit).Scores, (await call.Done.Task).Scores);
        }

        var stats = Stats(metrics);
        Assert.Equal((3, 4, 18), (stats.GetProperty("batches").GetInt64(), stats.GetProperty("batchedRequests").GetInt64(), stats.GetProperty("batchedCandidates").GetInt64()));
    }

    [Fact]
    public void Run_ATierTheVersionLacks_FailsThatGroupOnly()
    {
        using var serving = Scenes.Serving();
        using var lease = serving.Acquire();
        var calls = new[]
        {
            new ScoreBatcher.Pending(lease, "medium", Scenes.Request(new Random(2), 2), null),
            new ScoreBatcher.Pending(lease, Tiers.Small, Scenes.Request(new Random(3), 2), null),
        };

        ScoreBatcher.Run(calls, replica: 0);

        Assert.IsType<ArgumentException>(calls[0].Done.Task.Exception!.InnerException);
        Assert.True(calls[1].Done.Task.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Score_ConcurrentRequests_EachGetsWhatItWouldAlone()
    {
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        var invoker = host.Services.GetRequiredService<IServiceInvoker>();
        var requests = Enumerable.Range(0, 12).Select(i => ScoreRequest(new Random(i), 20 + i)).ToArray();
        var alone = new List<ScoreResponse>();
        foreach (var request in requests)
        {
            alone.Add(await invoker.InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, request));
        }

        var together = await Task.WhenAll(requests.Select(r => invoker.InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, r)));

        for (var i = 0; i < requests.Length; i++)
        {
            Assert.Equal(alone[i].Items.Select(x => (x.AdId, x.Score)), together[i].Items.Select(x => (x.AdId, x.Score)));
        }

        var stats = Stats(host.Services.GetRequiredService<RankerMetrics>());
        Assert.Equal(2 * requests.Length * 2, stats.GetProperty("batchedRequests").GetInt64()); // two stages each, twice
        Assert.InRange(stats.GetProperty("batches").GetInt64(), 1, 2 * requests.Length * 2);
    }

    private static JsonElement Stats(RankerMetrics metrics)
    {
        var stats = new Dictionary<string, object?>();
        metrics.Contribute(stats);
        return JsonSerializer.SerializeToElement(stats["ranker"]);
    }

    private static ScoreRequest ScoreRequest(Random rng, int candidates) => new()
    {
        RequestId = "r" + rng.Next(),
        UserId = "u" + rng.Next(20),
        UserEmbedding = [.. Enumerable.Range(0, FeatureSpace.UserEmbeddingDimension).Select(_ => (float)(rng.NextDouble() - 0.5))],
        Context = new RankContext { Surface = "feed", Device = "ios", Hour = 10 },
        Candidates = [.. Enumerable.Range(0, candidates).Select(i => new Candidate { AdId = $"a{rng.Next(200)}-{i}", Category = $"c{rng.Next(5)}" })],
        Cascade = [new CascadeStage { Tier = Tiers.Small, Keep = 10 }, new CascadeStage { Tier = Tiers.Large, Keep = 5 }],
    };
}
