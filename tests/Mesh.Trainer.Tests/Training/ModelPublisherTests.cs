using Mesh.Contracts;
using Mesh.Models;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Microsoft.Extensions.Options;

namespace Mesh.Trainer.Tests.Training;

public class ModelPublisherTests
{
    private static readonly WindowVerdict Verdict = new(true, 0.8, 0.9, double.NaN);

    private static (ModelPublisher Publisher, EmbeddedStateStore State, RecordingPublisher Events) Create(int keep = 3)
    {
        var clock = TestClock.Create();
        var state = new EmbeddedStateStore(clock);
        var events = new RecordingPublisher();
        return (new ModelPublisher(state, events, Options.Create(new TrainerOptions { KeepCheckpoints = keep }), clock), state, events);
    }

    [Fact]
    public async Task PublishAsync_AVersion_StoresGraphsCheckpointPointerThenTheEvent()
    {
        var (publisher, state, events) = Create();
        var model = RankingModel.CreateInitial();

        var (checkpoint, at) = await publisher.PublishAsync(model, 1, 1234, Verdict, 0.7, CancellationToken.None);

        var pointer = (await state.GetAsync<ModelPointer>(Components.ModelStore, StateKeys.LatestRankingModel))!.Value;
        Assert.Equal((1, StateKeys.RankingCheckpoint(1)), (pointer.Version, pointer.CheckpointKey));
        foreach (var (graph, key) in pointer.GraphKeys!)
        {
            Assert.Equal(graph, (await state.GetAsync<ModelGraph>(Components.ModelStore, key))!.Value.Graph);
        }

        var stored = (await publisher.LatestAsync(CancellationToken.None))!;
        Assert.Equal((1, 1234, at), (stored.Version, stored.TrainedExamples, stored.CreatedAt));
        Assert.Equal(checkpoint, stored.Checkpoint);
        var metrics = RankingModel.FromCheckpoint(checkpoint).Metrics;
        Assert.Equal((0.8, 0.9, 0.7), (metrics["validationNe"], metrics["previousNe"], metrics["validationAuc"]));
        Assert.False(metrics.ContainsKey("smallNe")); // NaN is not written
        var published = Assert.Single(events.Published);
        Assert.Equal(Topics.ModelPublished, published.Topic);
        var e = (ModelPublished)published.Data;
        Assert.Equal((AppIds.Ranker, 1L, pointer.CheckpointKey, 0.8, 0.9), (e.ModelName, e.Version, e.CheckpointKey, e.ValidationNe, e.PreviousNe));
    }

    [Fact]
    public async Task PublishAsync_BeyondKeepCheckpoints_DeletesTheOldest()
    {
        var (publisher, state, _) = Create(keep: 1);
        var model = RankingModel.CreateInitial();

        for (var version = 1; version <= 3; version++)
        {
            await publisher.PublishAsync(model, version, 10 * version, Verdict, 0.7, CancellationToken.None);
        }

        Assert.Null(await state.GetAsync<ModelCheckpoint>(Components.ModelStore, StateKeys.RankingCheckpoint(1)));
        Assert.NotNull(await state.GetAsync<ModelCheckpoint>(Components.ModelStore, StateKeys.RankingCheckpoint(2)));
        Assert.Equal(3, (await publisher.LatestAsync(CancellationToken.None))!.Version);
    }

    [Fact]
    public async Task LatestAsync_NothingPublished_Null()
    {
        var (publisher, _, _) = Create();

        Assert.Null(await publisher.LatestAsync(CancellationToken.None));
    }

    [Fact]
    public async Task LatestAsync_PointerToAMissingCheckpoint_Null()
    {
        var (publisher, state, _) = Create();
        await state.SaveAsync(Components.ModelStore, StateKeys.LatestRankingModel, new ModelPointer { Version = 7, CheckpointKey = StateKeys.RankingCheckpoint(7) });

        Assert.Null(await publisher.LatestAsync(CancellationToken.None));
    }

    private sealed class RecordingPublisher : IEventPublisher
    {
        public List<(string Topic, object Data)> Published { get; } = [];

        public Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default)
        {
            Published.Add((topic, data!));
            return Task.CompletedTask;
        }
    }
}
