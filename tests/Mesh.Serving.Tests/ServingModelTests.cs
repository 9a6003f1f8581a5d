using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Onnx;
using Mesh.Serving.Inference;

namespace Mesh.Serving.Tests;

public sealed class ServingModelTests
{
    [Fact]
    public void Start_ServesVersionZero_TheEnginesUntrainedModel()
    {
        using var serving = Scenes.Serving();
        using var lease = serving.Acquire();

        var request = Scenes.Request(new Random(1), 12);
        var engine = RankingModel.CreateInitial().Score(Tiers.Large, request).Scores;

        Assert.Equal(0, lease.Version);
        AssertClose(engine, lease.Model.Score(Tiers.Large, request).Scores);
    }

    [Fact]
    public void Score_WithAnExitRule_GivesTheEnginesEarlyExitScores()
    {
        var model = Trained(seed: 3);
        using var onnx = OnnxRankingModel.From(model, ExecutionTarget.Cpu);
        var rule = new EarlyExitRule(Keep: 3, Threshold: 0.8);
        var request = Scenes.Request(new Random(2), 30);

        var engine = model.Score(Tiers.Large, request, rule);
        var served = onnx.Score(Tiers.Large, request, rule);

        Assert.True(engine.CandidateLayers < 30 * 3, "the rule should have stopped some candidates early in the engine");
        AssertClose(engine.Scores, served.Scores);
        Assert.Equal(30 * 3, served.CandidateLayers);
    }

    [Fact]
    public void Score_ABatchOfRequests_GivesEachRequestsOwnScores()
    {
        using var onnx = OnnxRankingModel.From(Trained(seed: 4), ExecutionTarget.Cpu);
        var rng = new Random(3);
        var requests = Enumerable.Range(0, 5).Select(i => Scenes.Request(rng, 3 + i)).ToArray();
        var exits = new EarlyExitRule?[] { null, new(2, 0.9), null, new(1, 0.5), null };

        var batched = onnx.Score(Tiers.Large, RankingBatch.Create(requests), exits);

        for (var i = 0; i < requests.Length; i++)
        {
            Assert.Equal(onnx.Score(Tiers.Large, requests[i], exits[i]).Scores, batched[i].Scores);
        }
    }

    [Fact]
    public void TryInstall_GraphThatDoesNotLoad_RefusedWithTheReasonAndTheOldVersionServes()
    {
        using var serving = Scenes.Serving();
        var graphs = RankingOnnx.Export(Trained(seed: 5)).ToDictionary(g => g.Key, g => g.Value);
        graphs[Tiers.Large] = [.. graphs[Tiers.Large].Take(1000)];

        var refused = Assert.Throws<ModelRefusedException>(() => serving.TryInstall(1, graphs));

        Assert.Contains("version 1 on cpu", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, serving.Version);
        using var lease = serving.Acquire();
        Assert.Equal(2, lease.Model.Score(Tiers.Small, Scenes.Request(new Random(1), 2)).Scores.Length);
    }

    [Fact]
    public void TryInstall_WeightsThatRunToNaN_RefusedAtWarmUp()
    {
        using var serving = Scenes.Serving();
        var model = Trained(seed: 6);
        model.Tier(Tiers.Small).Parameters.First(p => p.Name.EndsWith(".head0.b", StringComparison.Ordinal)).Value.Span.Fill(float.NaN);

        var refused = Assert.Throws<ModelRefusedException>(() => serving.TryInstall(model.WithVersion(1, 10)));

        Assert.Contains("not finite", refused.Message, StringComparison.Ordinal);
        Assert.Equal(0, serving.Version);
    }

    [Fact]
    public void TryInstall_AnOlderVersion_IsNotInstalled()
    {
        using var serving = Scenes.Serving();
        Assert.True(serving.TryInstall(Trained(seed: 7).WithVersion(3, 10)));

        Assert.False(serving.TryInstall(Trained(seed: 8).WithVersion(2, 10)));

        Assert.Equal((3, 1L), (serving.Version, serving.Loads));
    }

    [Fact]
    public void Lease_HeldAcrossAReload_KeepsScoringOnItsVersion()
    {
        using var serving = Scenes.Serving();
        var request = Scenes.Request(new Random(4), 5);
        using var old = serving.Acquire();
        var before = old.Model.Score(Tiers.Small, request).Scores;

        Assert.True(serving.TryInstall(Trained(seed: 9).WithVersion(1, 10)));

        Assert.Equal(before, old.Model.Score(Tiers.Small, request).Scores);
        using var next = serving.Acquire();
        Assert.Equal(1, next.Version);
    }

    [Fact]
    public void Start_CudaTargetWithoutAGpu_StopsWithWhatToDo()
    {
        var e = Assert.Throws<InvalidOperationException>(() => Scenes.Serving(o => o.Targets = ["cpu", "cuda:0"]));

        Assert.Contains("execution target cuda:0 cannot start", e.Message, StringComparison.Ordinal);
        Assert.Contains("Ranker:AllowCpuFallback", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_CudaTargetWithoutAGpuAndFallbackAllowed_ServesItsShareOnTheCpu()
    {
        using var serving = Scenes.Serving(o => (o.Targets, o.AllowCpuFallback) = (["cuda:0"], true));

        var target = Assert.Single(serving.Targets);
        Assert.Equal(("cuda:0", ExecutionTarget.Cpu), (target.Configured, target.Running));
        Assert.False(string.IsNullOrEmpty(target.FallbackReason));
        using var lease = serving.Acquire();
        Assert.Equal(ExecutionTarget.Cpu, lease.Model.Target);
    }

    [Fact]
    public void Start_AnUnknownTarget_IsAConfigurationError()
    {
        var e = Assert.Throws<FormatException>(() => Scenes.Serving(o => o.Targets = ["tpu"]));

        Assert.Contains("use cpu or cuda:N", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public async Task Reload_FiftyTimesWhileRequestsFlow_NoRequestFails()
    {
        using var serving = Scenes.Serving();
        var models = Enumerable.Range(1, 3).Select(i => RankingOnnx.Export(Trained(seed: 10 + i))).ToArray();
        using var done = new CancellationTokenSource();
        var scored = 0L;

        // Four callers score without pause, each request on whatever version serves when it starts.
        var callers = Enumerable.Range(0, 4).Select(c => Task.Run(() =>
        {
            var rng = new Random(c);
            while (!done.IsCancellationRequested)
            {
                using var lease = serving.Acquire(c);
                var scores = lease.Model.Score(c % 2 == 0 ? Tiers.Small : Tiers.Large, Scenes.Request(rng, 20)).Scores;
                Assert.Equal(20, scores.Length);
                Assert.All(scores, s => Assert.InRange(s, 0f, 1f));
                Interlocked.Increment(ref scored);
            }
        })).ToArray();

        for (var version = 1; version <= 50; version++)
        {
            Assert.True(serving.TryInstall(version, models[version % models.Length]));
        }

        await done.CancelAsync();
        await Task.WhenAll(callers); // rethrows any failed request
        Assert.Equal((50, 50L), (serving.Version, serving.Loads));
        Assert.True(Interlocked.Read(ref scored) > 50, $"{scored} requests scored during 50 reloads");
    }

    [Fact]
    public void Start_WithConfiguredFeatures_ServesVersionZeroOfThoseFeatures()
    {
        var features = new FeatureSpaceOptions
        {
            Features = [new FeatureDefinition { Name = "tags", Side = FeatureSide.Candidate, Kind = FeatureKind.Categorical, Buckets = 256, MaxValues = 2 }],
        };
        using var serving = Scenes.Serving(features: features);
        using var lease = serving.Acquire();

        var schema = FeatureSchema.From(features);
        Assert.Equal(schema, lease.Model.Features);
        var request = WithTags(Scenes.Request(new Random(4), 8), new Random(5));
        AssertClose(RankingModel.CreateInitial(features: schema).Score(Tiers.Large, request).Scores, lease.Model.Score(Tiers.Large, request).Scores);
    }

    [Fact]
    public void TryInstall_AVersionOfOtherFeatures_EncodesWhatThatVersionKnows()
    {
        // Configuration without features; the published version was trained with tags: serving reads the tags.
        using var serving = Scenes.Serving();
        var schema = new FeatureSchema([new FeatureField("tags", FeatureSide.Candidate, FeatureKind.Categorical, Buckets: 64, MaxValues: 2)]);
        var model = Trained(seed: 6, schema).WithVersion(1, 0);
        var request = WithTags(Scenes.Request(new Random(7), 10), new Random(8));

        Assert.True(serving.TryInstall(model));
        using var lease = serving.Acquire();

        Assert.Equal(schema, lease.Model.Features);
        var served = lease.Model.Score(Tiers.Large, request).Scores;
        AssertClose(model.Score(Tiers.Large, request).Scores, served);
        Assert.NotEqual(model.Score(Tiers.Large, request with { Ads = [.. request.Ads.Select(a => a with { Features = null })] }).Scores, served);
    }

    private static RankingInput WithTags(RankingInput request, Random rng) => request with
    {
        Ads = [.. request.Ads.Select(a => a with
        {
            Features = new Dictionary<string, System.Text.Json.JsonElement>
            {
                ["tags"] = System.Text.Json.JsonSerializer.SerializeToElement(new[] { "t" + rng.Next(6), "t" + rng.Next(6) }),
            },
        })],
    };

    // The untrained model with every weight nudged, so that heads and layers all matter (seeded).
    private static RankingModel Trained(int seed, FeatureSchema? features = null)
    {
        var model = RankingModel.CreateInitial(seed, features);
        var rng = new Random(seed);
        foreach (var p in model.Parameters)
        {
            foreach (ref var v in p.Value.Span)
            {
                v += (float)(rng.NextDouble() - 0.5) * 0.2f;
            }
        }

        return model;
    }

    private static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        Assert.All(expected.Zip(actual), p => Assert.Equal(p.First, p.Second, 1e-5f));
    }
}
