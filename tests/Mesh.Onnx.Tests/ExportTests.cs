using Google.Protobuf;
using Mesh.Contracts;
using Mesh.Learning;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Networks;
using Mesh.Serving.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Onnx.Tests;

/// <summary>
/// Every exported graph against the engine's forward pass on the same batch, under ONNX Runtime's CPU provider: on
/// freshly initialised weights and after training steps, within 1e-5 absolute.
/// </summary>
public sealed class ExportTests
{
    private const float Tolerance = 1e-5f;

    // (architecture, trained, with Batches.Features: one configured feature of each kind and side)
    public static TheoryData<string, bool, bool> Networks => new()
    {
        { "dhen-small", false, false }, { "dhen-small", true, false },
        { "dhen-large", false, false }, { "dhen-large", true, false },
        { "interformer", false, false }, { "interformer", true, false },
        { "logistic", false, false }, { "logistic", true, false },
        { "dhen-small", false, true }, { "dhen-small", true, true },
        { "dhen-large", false, true }, { "dhen-large", true, true },
        { "interformer", false, true }, { "interformer", true, true },
        { "logistic", false, true }, { "logistic", true, true },
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void UserTower_MatchesTheEngine(bool trained)
    {
        var (tower, _) = Build("dhen-small", trained);
        var requests = Batches.Requests(new Random(5), count: 9, candidates: 2);
        var batch = RankingBatch.Create(requests);
        var model = RankingOnnx.UserTower(ModelOf(tower));

        var expected = tower.Forward(Graph.ForInference(), batch).ToArray();
        using var session = new InferenceSession(model.ToByteArray());
        var actual = Run(session, batch, OnnxNames.UserEmbedding);

        AssertClose(expected, actual);
        Assert.Contains(expected, v => v != 0); // trained or not, the tower computes something for users with events
        Assert.All(Enumerable.Range(0, batch.Requests).Where(r => requests[r].Recent.Count == 0), r =>
            Assert.All(actual.AsSpan(r * FeatureSpace.UserEmbeddingDimension, FeatureSpace.UserEmbeddingDimension).ToArray(), v => Assert.Equal(0f, v)));
    }

    [Theory]
    [MemberData(nameof(Networks))]
    public void Tier_MatchesTheEnginesHeadsAndScore(string architecture, bool trained, bool features)
    {
        var schema = features ? Batches.Features : FeatureSchema.Empty;
        var (_, network) = Build(architecture, trained, schema);
        var rng = new Random(7);
        var requests = Batches.Requests(rng, count: 6, candidates: 7, embedding: true);
        var batch = RankingBatch.Create(features ? [.. requests.Select(r => Batches.WithFeatures(r, rng))] : requests, schema: schema);
        var g = Graph.ForInference();
        var user = g.Input(batch.ServedEmbeddings, new Shape(batch.Requests, FeatureSpace.UserEmbeddingDimension));
        var heads = network.Forward(g, batch, user).Select(h => h.ToArray()).ToList();

        using var session = new InferenceSession(RankingOnnx.Network(network).ToByteArray());
        var logits = Run(session, batch, OnnxNames.Logits);
        var score = Run(session, batch, OnnxNames.Score);

        // logits (N, heads): column h is head h, the final head last.
        var expected = Enumerable.Range(0, batch.Candidates).SelectMany(i => heads.Select(h => h[i])).ToArray();
        AssertClose(expected, logits);
        var probabilities = new float[batch.Candidates];
        System.Numerics.Tensors.TensorPrimitives.Sigmoid(heads[^1], probabilities);
        AssertClose(probabilities, score);
        Assert.True(heads[^1].Distinct().Count() > 1, "the heads should not all predict the prior");
        if (features)
        {
            // The features reach the score: the same requests without them score otherwise, in both.
            var plain = RankingBatch.Create(requests, schema: schema);
            var withoutFeatures = Run(session, plain, OnnxNames.Score);
            Assert.NotEqual(score, withoutFeatures);
            var g2 = Graph.ForInference();
            var plainHeads = network.Forward(g2, plain, g2.Input(plain.ServedEmbeddings, new Shape(plain.Requests, FeatureSpace.UserEmbeddingDimension)));
            System.Numerics.Tensors.TensorPrimitives.Sigmoid(plainHeads[^1].ToArray(), probabilities);
            AssertClose(probabilities, withoutFeatures);
        }
    }

    // ExFM's distillation heads are trained, never served: a tier's graph with them is byte for byte the graph without.
    [Theory]
    [InlineData("dhen")]
    [InlineData("interformer")]
    public void Tier_WithDistillationHeads_ExportsTheSameGraph(string architecture)
    {
        byte[] Export(int heads)
        {
            var rng = new Random(11);
            RankingNetwork network = architecture == "dhen"
                ? new Dhen(Tiers.Large, DhenConfig.Large with { DistillationHeads = heads }, rng)
                : new InterFormer(Tiers.Large, new InterFormerConfig(Width: 8, Layers: 1, SummaryTokens: 2, Heads: 2, Hidden: 16) { DistillationHeads = heads }, rng);
            Assert.Equal(heads, network.DistillationHeads);
            return RankingOnnx.Network(network).ToByteArray();
        }

        Assert.Equal(Export(0), Export(2));
    }

    [Fact]
    public void Export_WritesTheUserTowerAndEveryTier()
    {
        var model = RankingModel.CreateInitial(seed: 2);

        var graphs = RankingOnnx.Export(model);

        Assert.Equal([Tiers.Large, Tiers.Small, OnnxNames.UserTower], graphs.Keys.Order(StringComparer.Ordinal));
        var weights = model.Tiers.ToDictionary(t => t.Key, t => t.Value.Parameters.Sum(p => 4L * p.Value.Length));
        weights[OnnxNames.UserTower] = model.UserTower.Parameters.Sum(p => 4L * p.Value.Length);
        Assert.All(graphs, g => Assert.InRange(g.Value.Length, weights[g.Key], weights[g.Key] + (64 << 10))); // every weight, embedding tables included, once
    }

    /// <summary>
    /// A tower and a network (the tier named <c>small</c> or <c>large</c> as in a published model), trained a few steps
    /// or fresh. Fresh is the initialiser's weights except those it zeroes (biases, prediction heads, logistic
    /// regression's tables), which are drawn at random: zero heads would predict the prior whatever the layers below do.
    /// </summary>
    internal static (UserTower Tower, RankingNetwork Network) Build(string architecture, bool trained, FeatureSchema? features = null)
    {
        var rng = new Random(11);
        var tower = new UserTower("user", rng);
        RankingNetwork network = architecture switch
        {
            "dhen-small" => new Dhen(Tiers.Small, DhenConfig.Small, rng, features: features),
            "dhen-large" => new Dhen(Tiers.Large, DhenConfig.Large, rng, features: features),
            // A narrow InterFormer: every mechanism, at a test's cost.
            "interformer" => new InterFormer(Tiers.Large, new InterFormerConfig(Width: 8, Layers: 2, SummaryTokens: 2, Heads: 2, Hidden: 32), rng, features: features),
            "logistic" => new LogisticRegression(Tiers.Small, rng, features: features),
            _ => throw new ArgumentOutOfRangeException(nameof(architecture), architecture, null),
        };
        if (!trained)
        {
            foreach (var p in tower.Parameters.Concat(network.Parameters).Where(p => !p.Value.Span.ContainsAnyExcept(0f)))
            {
                foreach (ref var v in p.Value.Span)
                {
                    v = (float)(rng.NextDouble() - 0.5) * 0.2f;
                }
            }
        }
        else
        {
            var trainer = new RankingTrainer(tower, [network], new TrainingSettings { DenseLearningRate = 3e-3f, SparseLearningRate = 0.3f, GemmThreads = 1 });
            for (var step = 0; step < 20; step++)
            {
                var requests = Batches.Requests(rng, count: 4, candidates: 6);
                if (features is { IsEmpty: false })
                {
                    requests = [.. requests.Select(r => Batches.WithFeatures(r, rng))];
                }

                var labels = requests.SelectMany(r => r.Ads.Select(a => a.Category == "c1" || r.Recent.Count > 8 ? 1f : 0f)).ToArray();
                trainer.Step(RankingBatch.Create(requests, labels, features));
            }
        }

        return (tower, network);
    }

    /// <summary>Runs a session on a batch's arrays, feeding the inputs the graph declares, and reads one output.</summary>
    internal static float[] Run(InferenceSession session, RankingBatch batch, string output)
    {
        var inputs = session.InputNames.Select(name => BatchInputs.Create(batch, name)).ToList();
        try
        {
            using var options = new RunOptions();
            using var results = session.Run(options, session.InputNames, inputs, [output]);
            return results[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally
        {
            inputs.ForEach(i => i.Dispose());
        }
    }

    internal static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = Enumerable.Range(0, expected.Length).MaxBy(i => Math.Abs(expected[i] - actual[i]));
        Assert.True(
            expected.Length == 0 || Math.Abs(expected[worst] - actual[worst]) <= Tolerance,
            $"element {worst}: engine {expected[worst]}, ONNX Runtime {actual[worst]}");
    }

    // The tower's parameters under the model that CreateInitial would give (the tiers do not matter to its graph).
    private static RankingModel ModelOf(UserTower tower)
    {
        var model = RankingModel.CreateInitial(seed: 1);
        foreach (var (to, from) in model.UserTower.Parameters.Zip(tower.Parameters))
        {
            from.Value.Span.CopyTo(to.Value.Span);
        }

        return model;
    }
}
