using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Runtime;
using Mesh.Serving;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Ranker.Tests;

// Configured features through the ranker: what the router passes reaches the version's graphs, and they score as the engine.
[Trait("Category", "Slow")] // about 8 s alone on the shared 2-core machine: a ranker host, version 0, then a trained version loaded
public sealed class FeatureScoringTests
{
    private static readonly FeatureSchema Tags = new([new FeatureField("tags", FeatureSide.Candidate, FeatureKind.Categorical, Buckets: 64, MaxValues: 2)]);

    [Fact]
    public async Task Score_CandidateFeatures_ReachTheModelAndScoreAsTheEngine()
    {
        var model = TagLoving(version: 2);
        await using var host = await EmbeddedHost.StartAsync(b => b.AddRanker());
        Assert.True(host.Services.GetRequiredService<ServingModel>().TryInstall(model));
        var request = new ScoreRequest
        {
            RequestId = "r1",
            UserId = "u1",
            UserEmbedding = new float[FeatureSpace.UserEmbeddingDimension],
            Context = new RankContext { Surface = "feed", Device = "ios", Hour = 10 },
            Candidates = [.. Enumerable.Range(0, 12).Select(i => new Candidate { AdId = $"a{i}", Category = "c", Features = TagsOf(i % 4 == 1 ? "hot" : $"t{i}") })],
            Cascade = [new CascadeStage { Tier = Tiers.Large, Keep = 3 }],
        };

        var response = await host.Services.GetRequiredService<IServiceInvoker>().InvokeAsync<ScoreRequest, ScoreResponse>(AppIds.Ranker, Methods.Score, request);

        Assert.Equal(["a1", "a5", "a9"], response.Items.Select(i => i.AdId).Order(StringComparer.Ordinal));
        var expected = model.Score(Tiers.Large, new RankingInput
        {
            UserId = "u1",
            Context = request.Context,
            At = host.Clock.GetUtcNow(),
            UserEmbedding = request.UserEmbedding,
            Ads = [.. request.Candidates.Select(c => new AdInput(c.AdId!, c.Category!, null, c.Features))],
        }).Scores;
        Assert.All(response.Items, i => Assert.Equal(expected[int.Parse(i.AdId[1..], System.Globalization.CultureInfo.InvariantCulture)], i.Score, 5));
    }

    // The initial model of the tags feature, trained until a "hot" tag is always clicked and the others never.
    private static RankingModel TagLoving(long version)
    {
        var model = RankingModel.CreateInitial(features: Tags);
        var trainer = RankingTrainer.For(model, new TrainingSettings { GemmThreads = 1 });
        var at = new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);
        var requests = Enumerable.Range(0, 3).Select(r => new RankingInput
        {
            UserId = $"trainee{r}",
            Context = new RankContext(),
            At = at,
            Ads = [.. Enumerable.Range(0, 10).Select(i => new AdInput($"t{r}-{i}", "c", null, TagsOf(i % 3 == 0 ? "hot" : $"t{i}")))],
        }).ToList();
        var labels = requests.SelectMany(r => r.Ads.Select(a => a.Features!["tags"][0].GetString() == "hot" ? 1f : 0f)).ToArray();
        var batch = model.Encode(requests, labels);
        for (var i = 0; i < 20; i++)
        {
            trainer.Step(batch);
        }

        return model.WithVersion(version, trainer.Examples);
    }

    private static Dictionary<string, JsonElement> TagsOf(string tag) => new() { ["tags"] = JsonSerializer.SerializeToElement(new[] { tag }) };
}
