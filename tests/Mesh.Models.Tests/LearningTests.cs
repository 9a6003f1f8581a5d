using Mesh.Learning.Metrics;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models.Tests;

// The models learn what they are built for, and the baseline cannot: planted click patterns on small seeded streams.
[Trait("Category", "Slow")]
public class LearningTests
{
    // Clicks depend on an interaction only: surface "feed" with categories c0/c1, or "reels" with c2/c3, click often;
    // every other pair rarely. Each id alone (surface, category) says nothing.
    private static double InteractionClick(RankingInput r, AdInput ad) =>
        (r.Context.Surface == "feed") == (ad.Category is "c0" or "c1") ? 0.3 : 0.02;

    // Clicks depend on the sequence: an ad whose category the user viewed recently clicks often.
    private static double SequenceClick(RankingInput r, AdInput ad) =>
        r.Recent.Any(e => e.Category == ad.Category) ? 0.3 : 0.02;

    // Each baseline is trained once for the whole class.
    private static readonly Lazy<double> InteractionBaseline = new(() => Ne("logistic", InteractionClick, seed: 21, steps: 600));

    [Theory]
    [InlineData("dhen-1-layer")]
    [InlineData("dhen-2-layers")]
    [InlineData("interformer")]
    public void InteractionModels_LearnACrossThatLogisticRegressionCannot(string network)
    {
        var model = Ne(network, InteractionClick, seed: 21, steps: 600);
        var baseline = InteractionBaseline.Value;

        Assert.True(model < 0.85, $"{network}: NE {model:F3} on the last third");
        Assert.True(model < baseline - 0.05, $"{network} NE {model:F3} vs logistic regression {baseline:F3}");
    }

    // Learning a set-membership test through the user tower's pooled embedding takes longer than a cross of two ids,
    // hence the longer stream for DHEN (and the looser bound) here. InterFormer reads the sequence directly and learns it sooner.
    [Theory]
    [InlineData("dhen-1-layer", 1500)]
    [InlineData("interformer", 600)]
    public void TheUserTower_CarriesTheSequenceIntoTheRanking(string network, int steps)
    {
        var model = Ne(network, SequenceClick, seed: 22, steps);
        var baseline = Ne("logistic", SequenceClick, seed: 22, steps);

        Assert.True(model < 0.9, $"{network}: NE {model:F3} on the last third");
        Assert.True(model < baseline - 0.05, $"{network} NE {model:F3} vs logistic regression {baseline:F3}");
    }

    /// <summary>Progressive NE over the last third of a one-pass stream of <paramref name="steps"/> × 64 candidates.</summary>
    private static double Ne(string network, Func<RankingInput, AdInput, double> click, int seed, int steps)
    {
        var rng = new Random(seed);
        var tower = new UserTower("user", rng);
        RankingNetwork net = network switch
        {
            // Narrow versions of the tiers: the same mechanisms, at a cost a test can afford.
            "dhen-1-layer" => new Dhen("small", new DhenConfig(Width: 8, Layers: 1, Hidden: 32, Heads: 2), rng),
            "dhen-2-layers" => new Dhen("large", new DhenConfig(Width: 8, Layers: 2, Hidden: 32, Heads: 2), rng),
            "interformer" => new InterFormer("interformer", new InterFormerConfig(Width: 8, Layers: 1, SummaryTokens: 2, Heads: 2, Hidden: 32), rng),
            _ => new LogisticRegression("logistic", rng),
        };
        // The defaults are tuned for a million-impression pass; a stream this short needs the larger dense step.
        var trainer = new RankingTrainer(tower, [net], new TrainingSettings { DenseLearningRate = 1e-3f, SparseLearningRate = 0.05f });
        var metrics = new BinaryMetrics();
        for (var step = 0; step < steps; step++)
        {
            var requests = Enumerable.Range(0, 8).Select(_ => Requests.Random(rng, 8, events: rng.Next(0, 4))).ToArray();
            var labels = requests.SelectMany(r => r.Ads.Select(a => rng.NextDouble() < click(r, a) ? 1f : 0f)).ToArray();
            var predictions = trainer.Step(RankingBatch.Create(requests, labels))[0];
            if (step >= 2 * steps / 3)
            {
                metrics.Add(predictions, labels);
            }
        }

        return metrics.NormalizedEntropy;
    }
}
