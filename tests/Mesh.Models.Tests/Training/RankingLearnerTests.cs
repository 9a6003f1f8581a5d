using Mesh.Contracts;
using Mesh.Learning.Optim;
using Mesh.Models.Features;
using Mesh.Models.Training;

namespace Mesh.Models.Tests.Training;

public class RankingLearnerTests
{
    private static readonly TrainingSettings Settings = new() { DenseLearningRate = 1e-3f, GemmThreads = 1 };

    /// <summary>Seeded labelled batches: 4 requests of 5 candidates each, clicks where the ad's category is c0.</summary>
    private static List<RankingBatch> Batches(int count)
    {
        var rng = new Random(11);
        return [.. Enumerable.Range(0, count).Select(_ =>
        {
            var requests = Enumerable.Range(0, 4).Select(_ => Requests.Random(rng, 5)).ToList();
            var labels = requests.SelectMany(r => r.Ads.Select(a => a.Category == "c0" ? 1f : 0f)).ToArray();
            return RankingBatch.Create(requests, labels);
        })];
    }

    [Fact]
    public void Step_WithAveraging_TheAveragePredictsBeforeEachStepAndFollowsTheTrainer()
    {
        var learner = RankingLearner.Start(RankingModel.CreateInitial(), RankingModel.CreateInitial(), Settings, 0.9);

        // The reference: the trainer and the average by hand, on the same seeded models.
        var model = RankingModel.CreateInitial();
        var average = RankingModel.CreateInitial();
        var trainer = RankingTrainer.For(model, Settings);
        var averaging = new WeightAverage([.. model.Parameters], [.. average.Parameters], 0.9f);
        foreach (var batch in Batches(5))
        {
            var expected = learner.Predict(average, batch, [.. learner.Tiers]);
            var raw = trainer.Step(batch);
            averaging.Update();

            var step = learner.Step(batch);

            Assert.Equal(expected, step.Published);
            Assert.Equal(raw, step.Raw);
        }

        Assert.All(learner.Published.Parameters.Zip(average.Parameters), p => Assert.Equal(p.Second.Value.Span.ToArray(), p.First.Value.Span.ToArray()));
        Assert.Equal(100, learner.TrainedExamples);
    }

    [Fact]
    public void Step_WithRehearsal_StepsAgainOnEarlierBatchesAfterPredictingAndCountsEachExampleOnce()
    {
        var batches = Batches(6);
        var learner = RankingLearner.Start(RankingModel.CreateInitial(), RankingModel.CreateInitial(), Settings, 0, rehearsal: new Rehearsal(Passes: 2, Batches: 3, Seed: 5));

        // The reference: the same seeded draws by hand, over the last 3 batches (the new one included).
        var model = RankingModel.CreateInitial();
        var trainer = RankingTrainer.For(model, Settings);
        var pick = new Random(5);
        var kept = new List<RankingBatch>();
        for (var i = 0; i < batches.Count; i++)
        {
            var expected = trainer.Step(batches[i]);
            kept.Add(batches[i]);
            if (kept.Count > 3)
            {
                kept.RemoveAt(0);
            }

            var step = learner.Step(batches[i]);

            Assert.Equal(expected, step.Raw); // predicted before this batch or any rehearsal of it
            for (var pass = 0; pass < 2; pass++)
            {
                trainer.Step(kept[pick.Next(kept.Count)]);
            }
        }

        Assert.All(learner.Model.Parameters.Zip(model.Parameters), p => Assert.Equal(p.Second.Value.Span.ToArray(), p.First.Value.Span.ToArray()));
        Assert.Equal(120, learner.TrainedExamples); // 6 batches of 20, each once
        Assert.Equal(240, learner.RehearsedExamples); // 2 rehearsal steps of 20 per batch
    }

    [Fact]
    public void Step_WithoutAveraging_PublishesTheTrainedWeightsAndTheirPredictions()
    {
        var learner = RankingLearner.Start(RankingModel.CreateInitial(), RankingModel.CreateInitial(), Settings, 0);

        var step = learner.Step(Batches(1)[0]);

        Assert.Same(learner.Model, learner.Published);
        Assert.Null(learner.Averaging);
        Assert.Same(step.Raw, step.Published);
    }

    [Fact]
    public void Start_MeshModel_IndexesLargeAndSmallInTheTrainersOrder()
    {
        var learner = RankingLearner.Start(RankingModel.CreateInitial(), RankingModel.CreateInitial(), Settings, 0.99);

        Assert.Equal(Tiers.Large, learner.Tiers[learner.Large]);
        Assert.Equal(Tiers.Small, learner.Tiers[learner.Small!.Value]);
        Assert.Equal(learner.Model.Tiers.Keys, learner.Tiers);
    }

    [Fact]
    public void Step_WithTeacher_StudentsTrainOnTheBatchTheTeacherReturns()
    {
        var rng = new Random(3);
        var replacement = RankingBatch.Create([Requests.Random(rng, 5)], [1f, 0f, 0f, 0f, 0f]);
        var teacher = new RecordingTeacher(replacement);
        var learner = RankingLearner.Start(RankingModel.CreateInitial(), RankingModel.CreateInitial(), Settings, 0.99, teacher);
        var batches = Batches(3);

        foreach (var batch in batches)
        {
            learner.Step(batch);
        }

        Assert.Equal(batches, teacher.Seen);
        Assert.Equal(15, learner.Trainer.Examples); // 3 steps on what it returned, 5 candidates each, not the 20 of each batch
    }

    /// <summary>Records every batch it sees and hands the students <paramref name="replacement"/> instead.</summary>
    private sealed class RecordingTeacher(RankingBatch replacement) : ITeacher
    {
        public List<RankingBatch> Seen { get; } = [];

        public RankingBatch Teach(RankingBatch batch)
        {
            Seen.Add(batch);
            return replacement;
        }
    }
}
