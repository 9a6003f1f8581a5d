using Mesh.Models.Features;
using Mesh.Models.Training;

namespace Mesh.Models.Tests.Training;

public class ColdStartCalibrationTests
{
    private static RankingLearner Learner() =>
        RankingLearner.Start(RankingModel.CreateInitial(), RankingModel.CreateInitial(), new TrainingSettings { GemmThreads = 1 }, 0.99);

    private static RankingBatch Batch(int seed) => RankingBatch.Create([.. Enumerable.Range(0, 8).Select(_ => Requests.Random(new Random(seed++), 10))]);

    [Theory]
    [InlineData(0.04, 0.66)]
    [InlineData(0.9, 0.1)]
    [InlineData(0.3, 0.3)]
    public void LogitShift_AnyPredictions_MeanMatchesTheRate(double prior, double rate)
    {
        var random = new Random(7);
        var predictions = Enumerable.Range(0, 200).Select(_ => (float)Math.Clamp(prior * (0.5 + random.NextDouble()), 1e-4, 1 - 1e-4)).ToArray();

        var shift = ColdStartCalibration.LogitShift(predictions, rate);

        var mean = predictions.Average(p => 1 / (1 + Math.Exp(-(Math.Log(p / (1 - p)) + shift))));
        Assert.Equal(rate, mean, 4);
    }

    [Fact]
    public void Calibrate_NoLabelObserved_MovesNothing()
    {
        var calibration = new ColdStartCalibration();
        var learner = Learner();
        var batch = Batch(1);
        var before = learner.Predict(learner.Published, batch, [.. learner.Tiers]);

        Assert.False(calibration.Calibrate(learner, batch));

        Assert.Null(calibration.Rate);
        Assert.Equal(before, learner.Predict(learner.Published, batch, [.. learner.Tiers]));
    }

    [Fact]
    public void Calibrate_LabelsObserved_EveryTierPredictsTheObservedRateInBothWeights()
    {
        var calibration = new ColdStartCalibration();
        calibration.Observe([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // 2 clicks in 10: (2 + 0.5) / (10 + 1) with the prior
        calibration.Observe([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        var learner = Learner();
        var batch = Batch(2);

        Assert.True(calibration.Calibrate(learner, batch));

        Assert.Equal(4.5 / 21, calibration.Rate!.Value, 12);
        var published = learner.Predict(learner.Published, batch, [.. learner.Tiers]);
        var trained = learner.Predict(learner.Model, batch, [.. learner.Tiers]);
        Assert.All(published, tier => Assert.Equal(4.5 / 21, tier.Average(p => (double)p), 4));
        Assert.Equal(published, trained); // the average starts as a copy of the weights, and both moved alike
    }
}
