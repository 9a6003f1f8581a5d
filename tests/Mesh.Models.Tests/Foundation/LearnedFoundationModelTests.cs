using Mesh.Learning.Checkpoints;
using Mesh.Models.Features;
using Mesh.Models.Foundation;
using Mesh.Models.Networks;

namespace Mesh.Models.Tests.Foundation;

public class LearnedFoundationModelTests
{
    private static readonly FoundationConfig Tiny = new(Width: 4, Layers: 2, Hidden: 8, Heads: 2);

    private static LearnedFoundationModel Trained()
    {
        var fm = LearnedFoundationModel.CreateInitial(seed: 3, Tiny);
        var trainer = fm.Trainer();
        var rng = new Random(6);
        for (var step = 0; step < 4; step++)
        {
            var requests = Enumerable.Range(0, 3).Select(_ => Requests.Random(rng, 4)).ToArray();
            var labels = Enumerable.Range(0, 12).Select(_ => rng.NextDouble() < 0.3 ? 1f : 0f).ToArray();
            trainer.Step(fm.Encode(requests, labels));
        }

        return fm;
    }

    [Fact]
    public void Checkpoint_RoundTrip_SameOutputsVersionAndMetrics()
    {
        var fm = Trained();
        var requests = new[] { Requests.Random(new Random(8), 5), Requests.Random(new Random(9), 2) };

        var loaded = LearnedFoundationModel.FromCheckpoint(fm.ToCheckpoint(7, 48, new Dictionary<string, double> { ["ne"] = 0.9 }));

        var expected = fm.Represent(requests);
        var actual = loaded.Represent(requests);
        Assert.Equal(7, loaded.Version);
        Assert.Equal(48, loaded.TrainedExamples);
        Assert.Equal(0.9, loaded.Metrics["ne"]);
        Assert.Equal(Tiny, loaded.Network.Settings);
        Assert.Equal(expected.Probabilities, actual.Probabilities);
        Assert.Equal(expected.Representations, actual.Representations);
        Assert.Equal(7, actual.Version);
    }

    [Fact]
    public void Represent_GivesALogitAndAPrecomputedSizedVectorPerCandidate()
    {
        var fm = Trained();
        var outputs = fm.Represent([Requests.Random(new Random(8), 5)]);
        var probabilities = new float[5];
        fm.Predict([Requests.Random(new Random(8), 5)], probabilities);

        Assert.Equal(5, outputs.Representations.Length);
        Assert.All(outputs.Representations, v => Assert.Equal(FeatureSpace.PrecomputedDimension, v.Length));
        Assert.All(outputs.Representations.SelectMany(v => v), v => Assert.InRange(v, -1f, 1f));
        Assert.Equal(outputs.Probabilities, probabilities);
        Assert.Contains(outputs.Probabilities, p => Math.Abs(p - Priors.ClickRate) > 1e-4); // trained off the prior
    }

    // The foundation model reads no precomputed representation (its own output): a hit and a miss predict the same.
    [Fact]
    public void Predict_IgnoresThePrecomputedRepresentation()
    {
        var fm = Trained();
        var request = Requests.Random(new Random(8), 3);
        var hit = request with { Ads = [.. request.Ads.Select(a => a with { Precomputed = Enumerable.Repeat(0.7f, FeatureSpace.PrecomputedDimension).ToArray() })] };
        float[] a = new float[3], b = new float[3];

        fm.Predict([request], a);
        fm.Predict([hit], b);

        Assert.Equal(a, b);
    }

    [Fact]
    public void FromCheckpoint_ARankingModel_IsRefused()
    {
        var ranking = RankingModel.CreateInitial().ToCheckpoint(1, 0);

        Assert.Throws<CheckpointException>(() => LearnedFoundationModel.FromCheckpoint(ranking));
        Assert.Throws<CheckpointException>(() => RankingModel.FromCheckpoint(LearnedFoundationModel.CreateInitial(1, Tiny).ToCheckpoint(1, 0)));
    }

    [Fact]
    public void DefaultConfig_CostsSeveralTimesTheLargeTierPerCandidate()
    {
        var large = new Dhen("large", DhenConfig.Large, new Random(1));
        var fm = new FoundationNetwork("fm", FoundationConfig.Default, new Random(1));

        var ratio = (double)fm.Cost.FlopsPerCandidate / large.Cost.FlopsPerCandidate;

        Assert.True(ratio >= 3, $"foundation model / large tier FLOPs per candidate: {ratio:F2}");
    }
}
