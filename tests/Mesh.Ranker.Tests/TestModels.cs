using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Runtime;

namespace Mesh.Ranker.Tests;

/// <summary>Models with known preferences, and checkpoints of them in the model store.</summary>
internal static class TestModels
{
    /// <summary>
    /// The initial model trained a few dozen steps on requests where ads of <paramref name="category"/> are always
    /// clicked and ads of four other categories never; trained on ad ids other than the tests', so what it learned is
    /// the category (and it learned it in both tiers, as the trainer trains them together).
    /// </summary>
    public static RankingModel CategoryLoving(string category, long version, int steps = 40)
    {
        var model = RankingModel.CreateInitial();
        var trainer = RankingTrainer.For(model, new TrainingSettings { GemmThreads = 1 });
        string[] categories = [category, "c0", "c1", "c2", "c4"];
        var at = new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);
        var requests = Enumerable.Range(0, 8).Select(r => new RankingInput
        {
            UserId = $"trainee{r}",
            Context = new RankContext { Surface = "feed", Device = "ios", Hour = 10 },
            At = at,
            Ads = [.. Enumerable.Range(0, 10).Select(i => new AdInput($"t{r}-{i}", categories[i % categories.Length]))],
        }).ToList();
        var labels = requests.SelectMany(r => r.Ads.Select(a => a.Category == category ? 1f : 0f)).ToArray();
        var batch = RankingBatch.Create(requests, labels);
        for (var i = 0; i < steps; i++)
        {
            trainer.Step(batch);
        }

        return model.WithVersion(version, trainer.Examples);
    }

    public static Task SaveAsync(IStateStore state, long version, byte[] checkpoint, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        state.SaveAsync(Components.ModelStore, StateKeys.RankingCheckpoint(version), new ModelCheckpoint
        {
            Version = version,
            TrainedExamples = 10,
            CreatedAt = now,
            Checkpoint = checkpoint,
        }, cancellationToken: cancellationToken);

    /// <summary>The untrained model's weights under <paramref name="version"/>, as the trainer would save them.</summary>
    public static byte[] InitialCheckpoint(long version) => RankingModel.CreateInitial().ToCheckpoint(version, 10);
}
