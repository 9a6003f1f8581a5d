using Mesh.Contracts;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models.Tests;

public class EarlyExitTests
{
    [Fact]
    public void Survivors_BelowThresholdTimesTheKthBestOfTheirOwnRequest_Exit()
    {
        // Request 0: five candidates, k = 2, the 2nd best is 0.4, bar 0.5 * 0.4 = 0.2. Request 1 has 2 candidates: all stay.
        float[] p = [0.5f, 0.4f, 0.19f, 0.2f, 0.01f, 0.001f, 0.002f];
        int[] active = [0, 1, 2, 3, 4, 5, 6];
        int[] requestOf = [0, 0, 0, 0, 0, 1, 1];

        Assert.Equal([0, 1, 3, 5, 6], new EarlyExitRule(Keep: 2, Threshold: 0.5).Survivors(p, active, requestOf));
        Assert.Equal(active, new EarlyExitRule(Keep: 2, Threshold: 0).Survivors(p, active, requestOf));
        Assert.Equal([0, 1, 5, 6], new EarlyExitRule(Keep: 2, Threshold: 1).Survivors(p, active, requestOf));
    }

    [Fact]
    public void Survivors_PositionsRefertoTheActiveList()
    {
        // After an earlier exit, active holds candidate ids 4, 7, 9; the answer is positions into that list.
        float[] p = [0.01f, 0.9f, 0.8f];

        Assert.Equal([1, 2], new EarlyExitRule(Keep: 2, Threshold: 0.5).Survivors(p, [4, 7, 9], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void ScoreWithExit_ThresholdZeroComputesEveryLayerAndMatchesPlainScoring()
    {
        var model = Trained.Value;
        var request = Requests.Random(new Random(2), 30);
        var depth = ((Dhen)model.Tier(Tiers.Large)).Depth;

        var plain = model.Score(Tiers.Large, request);
        var exit = model.Score(Tiers.Large, request, new EarlyExitRule(Keep: 5, Threshold: 0));

        Assert.Equal(30L * depth, plain.CandidateLayers);
        Assert.Equal(plain.CandidateLayers, exit.CandidateLayers);
        Assert.Equal(plain.Scores, exit.Scores);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void ScoreWithExit_AHighThresholdSavesComputeAndExitedCandidatesKeepTheirEarlyScore()
    {
        var model = Trained.Value;
        var request = Requests.Random(new Random(3), 40);
        var dhen = (Dhen)model.Tier(Tiers.Large);

        var plain = model.Score(Tiers.Large, request);
        var exit = model.Score(Tiers.Large, request, new EarlyExitRule(Keep: 5, Threshold: 0.9));

        Assert.InRange(exit.CandidateLayers, 40 + 5, (40L * dhen.Depth) - 1);
        // Candidates that ran every layer have the plain score; the others stopped at an earlier head.
        var same = plain.Scores.Zip(exit.Scores).Count(x => Math.Abs(x.First - x.Second) < 1e-5);
        Assert.InRange(same, 5, 39);
    }

    private static readonly Lazy<RankingModel> Trained = new(TrainedLarge);

    // Trained so that the heads disagree across candidates: category c0 clicks, the rest do not.
    private static RankingModel TrainedLarge()
    {
        var model = RankingModel.CreateInitial(seed: 4);
        var trainer = RankingTrainer.For(model);
        var rng = new Random(11);
        for (var step = 0; step < 40; step++)
        {
            var requests = Enumerable.Range(0, 4).Select(_ => Requests.Random(rng, 16)).ToArray();
            var labels = requests.SelectMany(r => r.Ads).Select(a => a.Category == "c0" && rng.NextDouble() < 0.6 ? 1f : 0f).ToArray();
            trainer.Step(RankingBatch.Create(requests, labels));
        }

        return model;
    }
}
