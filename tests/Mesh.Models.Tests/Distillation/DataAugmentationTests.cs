using Mesh.Models.Distillation;
using Mesh.Models.Features;
using Mesh.Models.Foundation;
using Mesh.Models.Networks;

namespace Mesh.Models.Tests.Distillation;

public class DataAugmentationTests
{
    // Counts what the foundation model is run on.
    private sealed class CountingTeacher(IFoundationTeacher inner) : IFoundationTeacher
    {
        public long Examples { get; private set; }

        public long Version => inner.Version;

        public void Predict(IReadOnlyList<RankingInput> requests, Span<float> probabilities)
        {
            Examples += requests.Sum(r => r.Ads.Count);
            inner.Predict(requests, probabilities);
        }
    }

    private static readonly FoundationConfig Tiny = new(Width: 4, Layers: 2, Hidden: 8, Heads: 2);

    // Two students train on the same stream, batched differently and one batch behind the other (as two verticals'
    // label delays differ): the foundation model runs once per unique example, and both students get the same ŷ_F.
    [Fact]
    public void Join_TwoStudents_RunsTheFoundationModelOncePerUniqueExample()
    {
        var fm = LearnedFoundationModel.CreateInitial(seed: 2, Tiny);
        var fmTrainer = fm.Trainer();
        var teacher = new CountingTeacher(fm);
        var das = new DataAugmentation(teacher);
        var rng = new Random(4);
        var stream = Enumerable.Range(0, 12).Select(i => (Request: Requests.Random(rng, 3), Id: $"r{i}")).ToArray();
        var labels = stream.ToDictionary(s => s.Id, s => s.Request.Ads.Select(_ => rng.NextDouble() < 0.3 ? 1f : 0f).ToArray());
        var small = new RankingTrainer(new UserTower("u1", rng), [new Dhen("small", new DhenConfig(4, 1, 8, 2) { DistillationHeads = 1 }, rng)], null, new ExfmOptions { Mode = DistillationMode.AuxiliaryHead });
        var large = new RankingTrainer(new UserTower("u2", rng), [new Dhen("large", new DhenConfig(4, 2, 8, 2) { DistillationHeads = 1 }, rng)], null, new ExfmOptions { Mode = DistillationMode.AuxiliaryHead });
        var seen = new Dictionary<string, float>();

        void Train(RankingTrainer student, IReadOnlyList<(RankingInput Request, string Id)> batch)
        {
            var requests = batch.Select(b => b.Request).ToArray();
            var keys = batch.SelectMany(b => b.Request.Ads.Select((_, j) => $"{b.Id}-{j}")).ToArray();
            var clicks = batch.SelectMany(b => labels[b.Id]).ToArray();
            var joined = das.Join(requests, keys);
            for (var i = 0; i < keys.Length; i++)
            {
                Assert.False(float.IsNaN(joined[i]));
                Assert.Equal(seen.TryAdd(keys[i], joined[i]) ? joined[i] : seen[keys[i]], joined[i]);
            }

            student.Step(RankingBatch.Create(requests, clicks), joined);
        }

        for (var i = 0; i < 6; i++)
        {
            Train(small, stream.Skip(2 * i).Take(2).ToArray()); // batches of two requests
            if (i > 0)
            {
                Train(large, stream.Skip(2 * (i - 1)).Take(2).Reverse().ToArray()); // one batch behind, reordered
            }

            // The foundation model learns too, on the same labelled examples: its newer weights must not re-run old ones.
            var fresh = stream.Skip(2 * i).Take(2).ToArray();
            fmTrainer.Step(fm.Encode([.. fresh.Select(b => b.Request)], fresh.SelectMany(b => labels[b.Id]).ToArray()));
        }

        Train(large, stream.Skip(10).Take(2).ToArray());

        Assert.Equal(36, teacher.Examples); // 12 requests × 3 candidates, each once
        Assert.Equal(36, das.TeacherExamples);
        Assert.Equal(72, das.JoinedRows); // every example joined to both students
        Assert.Equal(36, seen.Count);
    }

    [Fact]
    public void Join_NoTeacherYet_GivesNaNAndRunsNothing()
    {
        var das = new DataAugmentation(null);
        var request = Requests.Random(new Random(1), 2);

        var joined = das.Join([request], ["a", "b"]);

        Assert.All(joined, v => Assert.True(float.IsNaN(v)));
        Assert.Equal(0, das.TeacherCalls);
    }

    [Fact]
    public void Join_BeyondTheWindow_ForgetsTheOldestExample()
    {
        var teacher = new CountingTeacher(LearnedFoundationModel.CreateInitial(seed: 2, Tiny));
        var das = new DataAugmentation(teacher, window: 2);
        var rng = new Random(5);
        RankingInput One() => Requests.Random(rng, 1);

        das.Join([One()], ["a"]);
        das.Join([One()], ["b"]);
        das.Join([One()], ["c"]); // "a" leaves the window
        das.Join([One()], ["b"]);
        das.Join([One()], ["a"]);

        Assert.Equal(4, teacher.Examples);
    }
}
