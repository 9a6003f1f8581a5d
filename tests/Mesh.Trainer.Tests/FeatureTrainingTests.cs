using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Runtime;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Trainer.Tests;

// The trainer learns from the features the impressions logged, the values serving read.
public sealed class FeatureTrainingTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void CollectLabelled_ImpressionsWithFeatures_TheInputCarriesTheServedFeatures()
    {
        var clock = TestClock.Create();
        var joiner = new LabelJoiner(Microsoft.Extensions.Options.Options.Create(new TrainerOptions { LabelWindow = TimeSpan.FromSeconds(10) }), clock);
        var served = LabelJoinerTests.Served(T0, "i1", "i2");
        served = served with
        {
            Context = served.Context with { Features = Features(("segment", "\"gold\"")) },
            Items = [served.Items[0] with { Features = Features(("tags", "[\"x\",\"y\"]"), ("price", "9.5")) }, served.Items[1]],
        };

        joiner.AddImpressions(served);
        clock.Advance(TimeSpan.FromSeconds(10)); // no event for a label window: the idle flush closes it
        var input = Assert.Single(joiner.CollectLabelled()).Input;

        Assert.Equal("gold", input.Context.Features!["segment"].GetString());
        Assert.Equal(["x", "y"], input.Ads[0].Features!["tags"].EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(9.5, input.Ads[0].Features!["price"].GetDouble());
        Assert.Null(input.Ads[1].Features);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task Stream_AConfiguredFeatureDecidesTheClick_ThePublishedVersionReadsIt()
    {
        // Every ad is of one category; a "hot" tag, drawn per impression, clicks 30%, other tags 2%: only the feature tells.
        var tags = new FeatureDefinition { Name = "tags", Side = FeatureSide.Candidate, Kind = FeatureKind.Categorical, Buckets = 64, MaxValues = 2 };
        await using var host = await EmbeddedHost.StartAsync(b =>
        {
            b.Services.Configure<TrainerOptions>(o =>
            {
                o.ValidationWindow = 500;
                o.LabelWindow = TimeSpan.FromSeconds(5);
                o.CollectInterval = TimeSpan.FromDays(1); // the test collects itself
                o.DenseLearningRate = 1e-3;
                o.SparseLearningRate = 0.3;
            });
            b.Services.Configure<FeatureSpaceOptions>(o => o.Features = [tags]);
            b.AddTrainer();
            b.Services.AddSubscription<ModelPublished, EventRecorder<ModelPublished>>("observer", Topics.ModelPublished);
        });
        var rng = new Random(9);
        for (var r = 0; r < 300; r++)
        {
            var now = host.Clock.GetUtcNow();
            var served = LabelJoinerTests.Served(now, [.. Enumerable.Range(0, 10).Select(i => $"{r}-{i}")]);
            served = served with
            {
                RequestId = $"r{r}",
                Items = [.. served.Items.Select(i => i with { Features = Features(("tags", rng.Next(3) == 0 ? "[\"hot\"]" : $"[\"t{rng.Next(20)}\"]")) })],
            };
            await host.Publisher.PublishAsync(Topics.Impressions, served);
            foreach (var item in served.Items.Where(i => rng.NextDouble() < (i.Features!["tags"][0].GetString() == "hot" ? 0.3 : 0.02)))
            {
                await host.Publisher.PublishAsync(Topics.Feedback, new FeedbackReceived
                {
                    FeedbackId = "f" + item.ImpressionId,
                    ImpressionId = item.ImpressionId,
                    UserId = "u",
                    AdId = item.AdId,
                    OccurredAt = now.AddSeconds(1),
                });
            }

            host.Clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        await host.Broker.WaitForIdleAsync();
        host.Clock.Advance(TimeSpan.FromSeconds(5));
        await host.Services.GetRequiredService<StreamingTrainer>().CollectAsync(CancellationToken.None);
        await host.Broker.WaitForIdleAsync();

        var published = host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All;
        Assert.NotEmpty(published);
        var checkpoint = (await host.State.GetAsync<ModelCheckpoint>(Components.ModelStore, published[^1].CheckpointKey))!.Value;
        var model = RankingModel.FromCheckpoint(checkpoint.Checkpoint);
        Assert.Equal(FeatureSchema.From(new FeatureSpaceOptions { Features = [tags] }), model.Features);
        var scores = model.Score(Tiers.Large, new RankingInput
        {
            UserId = "someone-else",
            Context = new RankContext(),
            At = host.Clock.GetUtcNow(),
            UserEmbedding = [],
            Ads = [new AdInput("new-1", "c", null, Features(("tags", "\"hot\""))), new AdInput("new-2", "c", null, Features(("tags", "\"t3\"")))],
        }).Scores;
        Assert.True(scores[0] > 3 * scores[1], $"hot {scores[0]} vs other {scores[1]}");
    }

    private static Dictionary<string, JsonElement> Features(params (string Name, string Json)[] values) =>
        values.ToDictionary(v => v.Name, v => JsonDocument.Parse(v.Json).RootElement.Clone());
}
