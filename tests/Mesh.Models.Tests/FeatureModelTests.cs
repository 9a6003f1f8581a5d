using System.Text.Json;
using Mesh.Contracts;
using Mesh.Learning.Checkpoints;
using Mesh.Learning.Metrics;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Models.Tests.Features;

namespace Mesh.Models.Tests;

// Configured features through the models: the checkpoint carries the schema, the tiers read the values, and a feature
// that decides the click is learned.
public class FeatureModelTests
{
    private static readonly FeatureSchema Schema = FeatureSchemaTests.Schema;

    [Fact]
    public void CreateInitial_WithASchema_AddsOneFieldPerFeatureToEveryTier()
    {
        var model = RankingModel.CreateInitial(seed: 1, Schema);

        Assert.Equal(Schema, model.Features);
        Assert.All(model.Tiers.Values, t => Assert.Equal(FieldEmbeddings.BuiltInFields + 4, ((Dhen)t).Fields));
        Assert.Contains(model.Parameters, p => p.Name == "large.fields.feature.tags.table" && p.Value.Shape[0] == 256);
        Assert.Contains(model.Parameters, p => p.Name == "small.fields.feature.price.w" && p.Value.Shape[0] == 2);
    }

    [Fact]
    public void CreateInitial_WithoutASchema_IsTheModelOfBeforeFeatures()
    {
        // Same parameters and the same seeded weights: checkpoints and graphs of a mesh without features are unchanged.
        var plain = RankingModel.CreateInitial(seed: 4);
        var empty = RankingModel.CreateInitial(seed: 4, FeatureSchema.Empty);

        Assert.Equal(FieldEmbeddings.BuiltInFields, ((Dhen)plain.Tier(Tiers.Large)).Fields);
        Assert.Equal(plain.ToCheckpoint(0, 0), empty.ToCheckpoint(0, 0));
        Assert.DoesNotContain("features", System.Text.Encoding.UTF8.GetString(plain.ToCheckpoint(0, 0)), StringComparison.Ordinal);
    }

    [Fact]
    public void FromCheckpoint_KeepsTheSchemaAndTheScores()
    {
        var model = Trained(seed: 2);
        var request = Requests.WithFeatures(Requests.Random(new Random(3), 6, events: 3), new Random(4));

        var loaded = RankingModel.FromCheckpoint(model.ToCheckpoint(5, 100));

        Assert.Equal(Schema, loaded.Features);
        foreach (var tier in Tiers.All)
        {
            Assert.Equal(model.Score(tier, request).Scores, loaded.Score(tier, request).Scores);
        }
    }

    [Fact]
    public void FromCheckpoint_OfAnotherSchema_RefusesTheWeights()
    {
        var checkpoint = RankingModel.CreateInitial(seed: 1, Schema).ToCheckpoint(1, 0);
        var contents = Checkpoint.Read(checkpoint);
        contents.Info.Config!["features"] = new FeatureSchema(Schema.Features.Take(2)).ToJson();
        using var rewritten = new MemoryStream();
        Checkpoint.Save(rewritten, contents.Info, contents.Tensors);

        Assert.Throws<CheckpointException>(() => RankingModel.FromCheckpoint(rewritten.ToArray()));
    }

    [Fact]
    public void Score_ReadsTheFeatures_AndIgnoresNamesTheModelDoesNotKnow()
    {
        var model = Trained(seed: 5);
        var plain = Requests.Random(new Random(6), 6, events: 2);
        var withFeatures = Requests.WithFeatures(plain, new Random(7));
        var extra = withFeatures with
        {
            Ads = [.. withFeatures.Ads.Select(a => a with { Features = new Dictionary<string, JsonElement>(a.Features!) { ["colour"] = FeatureSchemaTests.Json("\"red\"") } })],
        };

        var without = model.Score(Tiers.Large, plain).Scores;
        var with = model.Score(Tiers.Large, withFeatures).Scores;

        Assert.NotEqual(without, with);
        Assert.Equal(with, model.Score(Tiers.Large, extra).Scores);
    }

    [Trait("Category", "Slow")]
    [Theory]
    [InlineData("dhen")]
    [InlineData("logistic")]
    public void Training_LearnsAClickThatACategoricalCandidateFeatureDecides(string architecture)
    {
        // Clicks depend on the candidate's tags only (any "hot" tag: 40%, else 2%), drawn per impression, so no id
        // tells them apart. Without the feature a model can learn the base rate and nothing more.
        var tags = new FeatureSchema([new FeatureField("tags", FeatureSide.Candidate, FeatureKind.Categorical, Buckets: 64, MaxValues: 2)]);
        var with = Ne(architecture, tags, seed: 31);
        var without = Ne(architecture, FeatureSchema.Empty, seed: 31);

        Assert.True(with < 0.85, $"{architecture} with the feature: NE {with:F3} on the last third");
        Assert.True(with < without - 0.1, $"{architecture}: NE {with:F3} with the feature, {without:F3} without");
    }

    [Fact]
    public void Training_LearnsAClickThatANumericContextFeatureDecides()
    {
        // Clicks depend on a numeric context feature alone: above 100 (log1p ≈ 4.6) 40%, else 2%.
        var spend = new FeatureSchema([new FeatureField("spend", FeatureSide.Context, FeatureKind.Numeric, Transform: FeatureTransform.Log1p)]);
        var with = Ne("logistic", spend, seed: 32, steps: 150, numeric: true);
        var without = Ne("logistic", FeatureSchema.Empty, seed: 32, steps: 150, numeric: true);

        Assert.True(with < without - 0.05, $"NE {with:F3} with the feature, {without:F3} without");
    }

    // A few steps on random clicks and features move every weight, the features' included, off its initial value.
    private static RankingModel Trained(int seed)
    {
        var model = RankingModel.CreateInitial(seed, Schema);
        var trainer = RankingTrainer.For(model);
        var rng = new Random(seed);
        for (var step = 0; step < 4; step++)
        {
            var requests = Enumerable.Range(0, 4).Select(_ => Requests.WithFeatures(Requests.Random(rng, 6), rng)).ToArray();
            var labels = Enumerable.Range(0, 24).Select(_ => rng.NextDouble() < 0.3 ? 1f : 0f).ToArray();
            trainer.Step(model.Encode(requests, labels));
        }

        return model.WithVersion(1, 96);
    }

    /// <summary>Progressive NE over the last third of a one-pass stream of <paramref name="steps"/> × 64 candidates.</summary>
    private static double Ne(string architecture, FeatureSchema schema, int seed, int steps = 300, bool numeric = false)
    {
        var rng = new Random(seed);
        var tower = new UserTower("user", rng);
        RankingNetwork network = architecture == "dhen"
            ? new Dhen("small", new DhenConfig(Width: 8, Layers: 1, Hidden: 32, Heads: 2), rng, features: schema)
            : new LogisticRegression("small", rng, features: schema);
        var trainer = new RankingTrainer(tower, [network], new TrainingSettings { DenseLearningRate = 3e-3f, SparseLearningRate = 0.1f, GemmThreads = 1 });
        var metrics = new BinaryMetrics();
        for (var step = 0; step < steps; step++)
        {
            var requests = new RankingInput[8];
            var labels = new float[64];
            for (var r = 0; r < requests.Length; r++)
            {
                var request = Requests.Random(rng, 8, events: rng.Next(0, 3));
                var spend = rng.NextDouble() < 0.5 ? rng.Next(0, 100) : rng.Next(101, 10_000);
                var ads = request.Ads.Select(a =>
                {
                    var t = Enumerable.Range(0, 2).Select(_ => rng.Next(8) == 0 ? "hot" : "t" + rng.Next(20)).ToArray();
                    return a with { Features = new Dictionary<string, JsonElement> { ["tags"] = JsonSerializer.SerializeToElement(t) } };
                }).ToArray();
                requests[r] = request with
                {
                    Context = request.Context with { Features = new Dictionary<string, JsonElement> { ["spend"] = JsonSerializer.SerializeToElement(spend) } },
                    Ads = ads,
                };
                for (var i = 0; i < ads.Length; i++)
                {
                    var hot = numeric ? spend > 100 : ads[i].Features!["tags"].EnumerateArray().Any(v => v.GetString() == "hot");
                    labels[(8 * r) + i] = rng.NextDouble() < (hot ? 0.4 : 0.02) ? 1f : 0f;
                }
            }

            var predictions = trainer.Step(RankingBatch.Create(requests, labels, schema))[0];
            if (step >= 2 * steps / 3)
            {
                metrics.Add(predictions, labels);
            }
        }

        return metrics.NormalizedEntropy;
    }
}
