using Mesh.Learning;
using Mesh.Models.Distillation;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models.Tests.Distillation;

public class ExfmStepTests
{
    // Every head of an untrained network predicts the prior p = 0.04 (zero weights, the prior's logit as bias), so the
    // loss of a first step is known by hand. h(t) = -t·ln p - (1 - t)·ln(1 - p), ln 0.04 = -3.2188758, ln 0.96 = -0.0408220.
    // One request, two candidates, clicks [1, 0]: the click term is (3.2188758 + 0.0408220) / 2 = 1.6298489.
    private const double ClickTerm = 1.6298489;

    private static readonly float[] Clicks = [1f, 0f];

    private static RankingTrainer Trainer(ExfmOptions options, int distillationHeads = 2)
    {
        var rng = new Random(7);
        var network = new Dhen("student", new DhenConfig(Width: 4, Layers: 1, Hidden: 8, Heads: 2) { DistillationHeads = distillationHeads }, rng);
        return new RankingTrainer(new UserTower("user", rng), [network], null, options);
    }

    private static RankingBatch Batch(float[] labels)
    {
        var request = Requests.Random(new Random(3), labels.Length, events: 2);
        return RankingBatch.Create([request], labels);
    }

    [Fact]
    public void Step_NoDistillation_IsTheClickLossOnly()
    {
        var trainer = Trainer(new ExfmOptions());

        trainer.Step(Batch(Clicks), [0.1f, 0.3f]);

        Assert.Equal(ClickTerm, trainer.LastLoss, 5);
    }

    // KD, α = 5, w = 2: targets min(1, 5·[0.1, 0.3]) = [0.5, 1]; h(0.5) = 1.6298489, h(1) = 3.2188758, mean 2.4243624;
    // times w: 4.8487247. AH has the same value: its distillation head also starts at the prior.
    [Theory]
    [InlineData(DistillationMode.ServingHead)]
    [InlineData(DistillationMode.AuxiliaryHead)]
    public void Step_KdAndAh_AddWTimesTheScaledTeacherTerm(DistillationMode mode)
    {
        var trainer = Trainer(new ExfmOptions { Mode = mode, LabelScale = 5, Weight = 2 });

        trainer.Step(Batch(Clicks), [0.1f, 0.3f]);

        Assert.Equal(ClickTerm + 4.8487247, trainer.LastLoss, 5);
    }

    // AH + SA with an adapter that does not move (learning rate 0, and an untrained adapter passes ŷ_F through): the
    // adapter's targets are ŷ_F = [0.1, 0.3]; h(0.1) = 0.3586274, h(0.3) = 0.9942381, mean 0.6764328; w_SA = 3: 2.0292983.
    [Fact]
    public void Step_AhWithAdapter_AddsWsaTimesTheAdaptersTerm()
    {
        var trainer = Trainer(new ExfmOptions { Mode = DistillationMode.AuxiliaryHeadWithAdapter, LabelScale = 5, Weight = 2, AdapterWeight = 3, AdapterLearningRate = 0 });

        trainer.Step(Batch(Clicks), [0.1f, 0.3f]);

        Assert.Equal(ClickTerm + 4.8487247 + 2.0292983, trainer.LastLoss, 5);
    }

    // A row without a teacher prediction (NaN) trains on its click only: the teacher term is the mean over [0.5] alone,
    // h(0.5) = 1.6298489, times w = 2.
    [Fact]
    public void Step_RowWithoutTeacher_IsLeftOutOfTheTeacherTerm()
    {
        var trainer = Trainer(new ExfmOptions { Mode = DistillationMode.AuxiliaryHead, LabelScale = 5, Weight = 2 });

        trainer.Step(Batch(Clicks), [0.1f, float.NaN]);

        Assert.Equal(ClickTerm + (2 * 1.6298489), trainer.LastLoss, 5);
    }

    // ExFM's order: the adapter steps on the batch's clicks first, and the student's target is its prediction after that
    // step. With a learning adapter the loss must equal the hand formula with the adapter's post-step predictions.
    [Fact]
    public void Step_WithAdapter_UpdatesTheAdapterFirstAndTargetsItsNewPrediction()
    {
        var trainer = Trainer(new ExfmOptions { Mode = DistillationMode.AuxiliaryHeadWithAdapter, Weight = 0, AdapterWeight = 1, AdapterLearningRate = 0.5f });
        float[] teacher = [0.1f, 0.3f];

        trainer.Step(Batch(Clicks), teacher);

        var adapted = new float[2];
        trainer.Adapter!.Predict(teacher, adapted);
        Assert.Equal(1, trainer.Adapter.Steps);
        Assert.NotEqual(0.1f, adapted[0], 3); // the step moved it
        double H(double t) => -(t * Math.Log(0.04)) - ((1 - t) * Math.Log(0.96));
        Assert.Equal(ClickTerm + ((H(adapted[0]) + H(adapted[1])) / 2), trainer.LastLoss, 4);
    }

    [Fact]
    public void Constructor_AuxiliaryHeadModeWithoutHeads_Throws()
    {
        Assert.Throws<ArgumentException>(() => Trainer(new ExfmOptions { Mode = DistillationMode.AuxiliaryHead }, distillationHeads: 0));
    }

    // Two tiers built from one generator, as RankingModel.CreateInitial builds them, narrow enough for a test.
    private static RankingModel Tiny(int seed, int distillationHeads)
    {
        var rng = new Random(seed);
        var tiers = new Dictionary<string, RankingNetwork>
        {
            [Contracts.Tiers.Small] = new Dhen(Contracts.Tiers.Small, new DhenConfig(4, 1, 8, 2) { DistillationHeads = distillationHeads }, rng),
            [Contracts.Tiers.Large] = new Dhen(Contracts.Tiers.Large, new DhenConfig(4, 2, 8, 2) { DistillationHeads = distillationHeads }, rng),
        };
        return RankingModel.Create(new UserTower("user", rng), tiers);
    }

    // Without distillation, a model with distillation heads serves and trains exactly as one without them: the heads
    // draw from their own generator (the large tier, built after the small one's heads, gets the same weights) and no
    // loss reaches them.
    [Fact]
    public void Step_DistillationHeadsUnused_ServedWeightsAndScoresAsWithoutThem()
    {
        var plain = Tiny(5, 0);
        var withHeads = Tiny(5, 2);
        var plainTrainer = RankingTrainer.For(plain);
        var headsTrainer = RankingTrainer.For(withHeads, null, new ExfmOptions());
        var rng = new Random(9);
        for (var step = 0; step < 3; step++)
        {
            var requests = Enumerable.Range(0, 3).Select(_ => Requests.Random(rng, 4)).ToArray();
            var labels = Enumerable.Range(0, 12).Select(_ => rng.NextDouble() < 0.3 ? 1f : 0f).ToArray();
            var expected = plainTrainer.Step(RankingBatch.Create(requests, labels));
            var actual = headsTrainer.Step(RankingBatch.Create(requests, labels), Enumerable.Repeat(0.2f, 12).ToArray());
            Assert.Equal(expected[0], actual[0]);
            Assert.Equal(expected[1], actual[1]);
        }

        var request = Requests.Random(rng, 6);
        foreach (var tier in Contracts.Tiers.All)
        {
            Assert.Equal(plain.Score(tier, request).Scores, withHeads.Score(tier, request).Scores);
        }
    }

    [Fact]
    public void DistillationHeads_SurviveTheRankingModelCheckpoint()
    {
        var loaded = RankingModel.FromCheckpoint(Tiny(2, 2).ToCheckpoint(1, 0));

        Assert.All(loaded.Tiers.Values, t => Assert.Equal(2, t.DistillationHeads));
        Assert.Equal(0, RankingModel.FromCheckpoint(Tiny(2, 0).ToCheckpoint(1, 0)).Tiers[Contracts.Tiers.Large].DistillationHeads);
        Assert.DoesNotContain("distillationHeads", new DhenConfig(4, 1, 8, 2).ToJson().ToJsonString(), StringComparison.Ordinal);
    }

    // β scales only what the distillation heads send into the backbone: the shared layers' gradient from the
    // distillation loss is β times that at β = 1, the heads' own weights' gradient is the same, the serving logits too.
    [Theory]
    [InlineData("dhen")]
    [InlineData("interformer")]
    public void ForwardWithDistillation_Beta_ScalesTheBackbonesGradientOnly(string architecture)
    {
        (float[] Backbone, float[] Head, float[] Serving) Gradients(float beta)
        {
            var rng = new Random(11);
            var tower = new UserTower("user", rng);
            RankingNetwork network = architecture == "dhen"
                ? new Dhen("n", new DhenConfig(4, 1, 8, 2) { DistillationHeads = 1 }, rng)
                : new InterFormer("n", new InterFormerConfig(4, 1, 2, 2, 8) { DistillationHeads = 1 }, rng);
            foreach (var p in network.Parameters.Where(p => p.Name.Contains("distill", StringComparison.Ordinal)))
            {
                Init.Normal(p.Value.Span, rng, 0.5f);
            }

            var batch = RankingBatch.Create([Requests.Random(rng, 4, events: 3)], [1f, 0f, 0f, 1f]);
            var g = new Graph();
            var outputs = network.ForwardWithDistillation(g, batch, tower.Forward(g, batch), beta);
            var serving = outputs.Serving[^1].ToArray();
            foreach (var p in network.Parameters)
            {
                p.ZeroGrad();
            }

            g.Backward(g.BceWithLogits(outputs.Distillation[0], g.Input([0.2f, 0.1f, 0.4f, 0.3f], new Shape(4))));
            var backbone = network.Parameters.First(p => p.Name.Contains("layer0", StringComparison.Ordinal) && !p.IsSparse);
            var head = network.Parameters.First(p => p.Name.Contains("distill0", StringComparison.Ordinal));
            return (backbone.GradToDense(), head.GradToDense(), serving);
        }

        var one = Gradients(1f);
        var three = Gradients(3f);

        Assert.Contains(one.Backbone, v => v != 0f);
        Assert.Equal(one.Backbone.Select(v => 3 * v), three.Backbone, (a, b) => Math.Abs(a - b) <= 1e-5f * (1 + Math.Abs(a)));
        Assert.Equal(one.Head, three.Head);
        Assert.Equal(one.Serving, three.Serving);
    }
}
