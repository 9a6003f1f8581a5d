using Mesh.Contracts;
using Mesh.Learning.Checkpoints;
using Mesh.Models.Features;
using Mesh.Models.Networks;

namespace Mesh.Models.Tests;

public class RankingModelTests
{
    private static readonly RankingModel Trained = TrainedModel();

    // A few steps on random clicks move every weight off its initial value, so the tests below see a real model.
    private static RankingModel TrainedModel()
    {
        var model = RankingModel.CreateInitial(seed: 3);
        var trainer = RankingTrainer.For(model);
        var rng = new Random(5);
        for (var step = 0; step < 5; step++)
        {
            var requests = Enumerable.Range(0, 4).Select(_ => Requests.Random(rng, 8)).ToArray();
            var labels = Enumerable.Range(0, 32).Select(_ => rng.NextDouble() < 0.3 ? 1f : 0f).ToArray();
            trainer.Step(RankingBatch.Create(requests, labels));
        }

        return model.WithVersion(1, 160);
    }

    [Fact]
    public void Initial_PredictsThePriorForEverything()
    {
        var model = RankingModel.CreateInitial();
        var request = Requests.Random(new Random(1), 10);

        foreach (var tier in Tiers.All)
        {
            Assert.All(model.Score(tier, request).Scores, p => Assert.Equal(Priors.ClickRate, p, 6));
        }
    }

    [Fact]
    public void Score_WithTheUserModelsEmbedding_EqualsScoringFromTheSequence()
    {
        // Serving gets the embedding user-model computed with the same tower; training computes it from the logged
        // sequence. The two must give the same scores, or serving and training disagree.
        var request = Requests.Random(new Random(2), 12, events: 9);
        var embedding = Trained.EmbedUser(request.UserId, request.Recent, request.At);

        foreach (var tier in Tiers.All)
        {
            var fromSequence = Trained.Score(tier, request).Scores;
            var served = Trained.Score(tier, request with { UserEmbedding = embedding }).Scores;
            Assert.Equal(fromSequence.Length, served.Length);
            for (var i = 0; i < served.Length; i++)
            {
                Assert.Equal(fromSequence[i], served[i], 5);
            }
        }
    }

    [Fact]
    public void EmbedUser_NoEventsGivesZerosLikeAnUnknownUser()
    {
        var none = Trained.EmbedUser("u1", [], Requests.Now);
        var some = Trained.EmbedUser("u1", [Requests.Event("c1", TimeSpan.FromMinutes(1))], Requests.Now);

        Assert.Equal(new float[FeatureSpace.UserEmbeddingDimension], none);
        Assert.Equal(FeatureSpace.UserEmbeddingDimension, some.Length);
        Assert.Contains(some, v => v != 0);
        var request = Requests.Random(new Random(4), 6, events: 0);
        Assert.Equal(Trained.Score(Tiers.Large, request with { UserEmbedding = [] }).Scores, Trained.Score(Tiers.Large, request).Scores);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Score_ABatchOfRequestsEqualsEachRequestAlone()
    {
        // The user side runs once per request and is broadcast to that request's candidates only.
        var rng = new Random(6);
        var requests = Enumerable.Range(0, 3).Select(i => Requests.Random(rng, 4 + i)).ToArray();
        var batch = RankingBatch.Create(requests);
        var g = new Learning.Graph(training: false);

        foreach (var (name, network) in Trained.Tiers)
        {
            var together = new float[batch.Candidates];
            network.Score(batch, Trained.UserEmbeddings(g, batch), together, g);
            var alone = requests.SelectMany(r => Trained.Score(name, r).Scores).ToArray();
            for (var i = 0; i < alone.Length; i++)
            {
                Assert.Equal(alone[i], together[i], 5);
            }
        }
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Checkpoint_RoundTripsBitExactly()
    {
        var bytes = Trained.ToCheckpoint(7, 160, new Dictionary<string, double> { ["validationNe"] = 0.9 });
        var loaded = RankingModel.FromCheckpoint(bytes);

        Assert.Equal(7, loaded.Version);
        Assert.Equal(160, loaded.TrainedExamples);
        Assert.Equal(0.9, loaded.Metrics["validationNe"]);
        Assert.Equal(bytes, loaded.ToCheckpoint(7, 160, loaded.Metrics));
        var request = Requests.Random(new Random(8), 5);
        Assert.Equal(Trained.Score(Tiers.Large, request).Scores, loaded.Score(Tiers.Large, request).Scores);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public void Checkpoint_CorruptOrForeignIsRefused()
    {
        var bytes = Trained.ToCheckpoint(1, 1);
        var corrupt = (byte[])bytes.Clone();
        corrupt[^100] ^= 0x40;

        Assert.Throws<CheckpointException>(() => RankingModel.FromCheckpoint(corrupt));
        Assert.Throws<CheckpointException>(() => RankingModel.FromCheckpoint(bytes[..(bytes.Length / 2)]));
        using var foreign = new MemoryStream();
        Checkpoint.Save(foreign, new CheckpointInfo { Architecture = "something-else" }, Trained.UserTower.Parameters);
        Assert.Throws<CheckpointException>(() => RankingModel.FromCheckpoint(foreign.ToArray()));
    }

    [Fact]
    public void Score_ConcurrentReadersGetTheSameScoresAsOne()
    {
        var rng = new Random(9);
        var requests = Enumerable.Range(0, 16).Select(_ => Requests.Random(rng, 20)).ToArray();
        var expected = requests.Select(r => Trained.Score(Tiers.Large, r).Scores).ToArray();
        var got = new float[requests.Length][];

        Parallel.For(0, requests.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => got[i] = Trained.Score(Tiers.Large, requests[i]).Scores);

        Assert.Equal(expected, got);
    }

    [Fact]
    public void Cost_PerCandidateGrowsWithTheTierAndTheUserTowerIsPerRequest()
    {
        var small = Trained.Tier(Tiers.Small).Cost;
        var large = Trained.Tier(Tiers.Large).Cost;

        Assert.True(large.FlopsPerCandidate > 4 * small.FlopsPerCandidate, $"large {large} vs small {small}");
        Assert.True(UserTower.FlopsPerRequest > small.FlopsPerCandidate, "the user tower costs more than a small-tier candidate: computing it once per request is what pays");
    }
}
