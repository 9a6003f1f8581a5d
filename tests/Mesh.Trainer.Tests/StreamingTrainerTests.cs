using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Runtime;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Trainer.Tests;

[Trait("Category", "Slow")]
public sealed class StreamingTrainerTests
{
    private const int Window = 500;

    private static Task<EmbeddedHost> StartAsync(Action<TrainerOptions>? configure = null) => EmbeddedHost.StartAsync(b =>
    {
        b.Services.Configure<TrainerOptions>(o =>
        {
            o.ValidationWindow = Window;
            o.LabelWindow = TimeSpan.FromSeconds(5);
            o.CollectInterval = TimeSpan.FromDays(1); // the tests call CollectAsync themselves

            // The library's defaults suit a million-impression pass; these streams are a few hundred impressions long.
            o.DenseLearningRate = 1e-3;
            o.SparseLearningRate = 0.3;

            // These tests pin the gate, the averaging and the cadence by examples; cold start has tests of its own.
            o.FirstPublishExamples = Window;
            o.CalibrateColdStart = false;
            configure?.Invoke(o);
        });
        b.AddTrainer();
        b.Services.AddSubscription<ModelPublished, EventRecorder<ModelPublished>>("observer", Topics.ModelPublished);
    });

    /// <summary>
    /// Serves <paramref name="requests"/> requests of 10 ads; ads of category "hot" are clicked 30% of the time (by
    /// default), the others 2%, drawn from a seeded generator; clicks arrive a second later.
    /// </summary>
    /// <returns>What was published, in order: the impressions and clicks.</returns>
    private static async Task<List<object>> FeedAsync(EmbeddedHost host, int requests, Random random, double hotRate = 0.3, double coldRate = 0.02)
    {
        var events = new List<object>();
        for (var r = 0; r < requests; r++)
        {
            var now = host.Clock.GetUtcNow();
            var ids = Enumerable.Range(0, 10).Select(i => $"{r}-{now.Ticks}-{i}").ToArray();
            var served = LabelJoinerTests.Served(now, ids) with
            {
                Items = [.. ids.Select((id, i) => new ServedImpression { ImpressionId = id, AdId = $"a{i}", Category = i < 3 ? "hot" : "cold", Position = i, Score = 0.04 })],
            };
            await host.Publisher.PublishAsync(Topics.Impressions, served);
            events.Add(served);
            foreach (var item in served.Items.Where(i => random.NextDouble() < (i.Category == "hot" ? hotRate : coldRate)))
            {
                var click = new FeedbackReceived
                {
                    FeedbackId = "f" + item.ImpressionId,
                    ImpressionId = item.ImpressionId,
                    UserId = "u",
                    AdId = item.AdId,
                    OccurredAt = now.AddSeconds(1),
                };
                await host.Publisher.PublishAsync(Topics.Feedback, click);
                events.Add(click);
            }

            host.Clock.Advance(TimeSpan.FromMilliseconds(100));
        }

        await host.Broker.WaitForIdleAsync();
        host.Clock.Advance(TimeSpan.FromSeconds(5));
        await host.Services.GetRequiredService<StreamingTrainer>().CollectAsync(CancellationToken.None);
        await host.Broker.WaitForIdleAsync();
        return events;
    }

    private static JsonElement Stats(EmbeddedHost host)
    {
        var stats = new Dictionary<string, object?>();
        host.Services.GetRequiredService<StreamingTrainer>().Contribute(stats);
        return JsonSerializer.SerializeToElement(stats);
    }

    [Fact]
    public async Task Window_NoSignal_NotPublished()
    {
        await using var host = await StartAsync();

        // Clicks at the untrained model's own rate (4%), whatever the ad: serving's prior is the best there is.
        await FeedAsync(host, 3 * Window / 10, new Random(5), hotRate: 0.04, coldRate: 0.04);

        Assert.Empty(host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All);
        var trainer = Stats(host).GetProperty("trainer");
        Assert.Equal(3, trainer.GetProperty("rejectedWindows").GetInt64());
        Assert.Equal(3 * Window, trainer.GetProperty("trainedExamples").GetInt64());
    }

    [Fact]
    public async Task FirstWindow_UntrainedModel_NotPublished()
    {
        await using var host = await StartAsync();

        await FeedAsync(host, Window / 10, new Random(1));

        Assert.Empty(host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All);
        Assert.Equal(1, Stats(host).GetProperty("trainer").GetProperty("rejectedWindows").GetInt64());
    }

    [Fact]
    public async Task Stream_WithSignal_PublishesBetterVersionsWithCheckpoints()
    {
        await using var host = await StartAsync();

        await FeedAsync(host, 6 * Window / 10, new Random(2));

        var published = host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All;
        Assert.NotEmpty(published);
        Assert.Equal(Enumerable.Range(1, published.Count).Select(v => (long)v), published.Select(p => p.Version));
        Assert.All(published, p => Assert.True(p.ValidationNe <= p.PreviousNe, $"v{p.Version}: {p.ValidationNe} > {p.PreviousNe}"));
        Assert.True(published[^1].ValidationNe < 0.95, $"the model learned little: NE {published[^1].ValidationNe}");

        var pointer = await host.State.GetAsync<ModelPointer>(Components.ModelStore, StateKeys.LatestRankingModel);
        Assert.Equal(published[^1].Version, pointer!.Value.Version);
        var checkpoint = (await host.State.GetAsync<ModelCheckpoint>(Components.ModelStore, pointer.Value.CheckpointKey))!.Value;
        Assert.Equal((published[^1].Version, published[^1].TrainedExamples), (checkpoint.Version, checkpoint.TrainedExamples));
        var model = RankingModel.FromCheckpoint(checkpoint.Checkpoint);
        Assert.Equal(published[^1].Version, model.Version);

        // What the ranker would serve: an unseen user and unseen ads, only the category known.
        var scores = model.Score(Tiers.Large, new RankingInput
        {
            UserId = "someone-else",
            Context = new RankContext(),
            At = host.Clock.GetUtcNow(),
            UserEmbedding = [],
            Ads = [new AdInput("new-hot", "hot"), new AdInput("new-cold", "cold")],
        }).Scores;
        Assert.True(scores[0] > 3 * scores[1], $"hot {scores[0]} vs cold {scores[1]}");

        // Older versions expire: the latest and KeepCheckpoints (3) before it stay.
        var kept = await host.State.GetBulkAsync<ModelCheckpoint>(Components.ModelStore, [.. published.Select(p => p.CheckpointKey)]);
        Assert.Equal(published.Select(p => p.Version >= published[^1].Version - 3), kept.Select(k => k.Found));
        var graphs = await host.State.GetBulkAsync<ModelGraph>(Components.ModelStore, [.. published.Select(p => p.GraphKeys![Tiers.Large])]);
        Assert.Equal(published.Select(p => p.Version >= published[^1].Version - 3), graphs.Select(k => k.Found));
    }

    [Fact]
    public async Task Stream_TrainOff_NothingTrainedOrPublished()
    {
        await using var host = await StartAsync(o => o.Train = false);

        // The stream that publishes versions with training on (Stream_WithSignal_PublishesBetterVersionsWithCheckpoints).
        await FeedAsync(host, 6 * Window / 10, new Random(2));

        Assert.Empty(host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All);
        Assert.Null(await host.State.GetAsync<ModelPointer>(Components.ModelStore, StateKeys.LatestRankingModel));
        Assert.Equal(0, host.Services.GetRequiredService<StreamingTrainer>().PublishedVersion);
        var stats = Stats(host);
        Assert.Equal(6 * Window, stats.GetProperty("labelledImpressions").GetInt64());
        var trainer = stats.GetProperty("trainer");
        Assert.False(trainer.GetProperty("train").GetBoolean());
        Assert.Equal(0, trainer.GetProperty("trainedExamples").GetInt64());
        Assert.Equal(6 * Window, trainer.GetProperty("untrainedExamples").GetInt64());
        Assert.Equal(0, trainer.GetProperty("windows").GetInt64());
        Assert.Equal(0, trainer.GetProperty("pendingLabels").GetInt64());
    }

    [Fact]
    public async Task Publish_WithWeightAveraging_PublishesTheAverageOfTheTrainedWeights()
    {
        const float decay = 0.9f;
        var options = new TrainerOptions { LabelWindow = TimeSpan.FromSeconds(5), BatchRequests = 10, WeightAverageDecay = decay };
        await using var host = await StartAsync(o => (o.BatchRequests, o.WeightAverageDecay) = (options.BatchRequests, options.WeightAverageDecay));
        var events = await FeedAsync(host, 6 * Window / 10, new Random(2));
        var published = host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All[^1];
        var stored = (await host.State.GetAsync<ModelCheckpoint>(Components.ModelStore, published.CheckpointKey))!.Value;
        var served = RankingModel.FromCheckpoint(stored.Checkpoint);

        // The same labelled requests, trained the same way (steps of 10 requests), averaged beside the training.
        var clock = TestClock.Create();
        var joiner = new LabelJoiner(Microsoft.Extensions.Options.Options.Create(options), clock);
        foreach (var e in events)
        {
            if (e is ImpressionsServed impressions)
            {
                joiner.AddImpressions(impressions);
            }
            else
            {
                joiner.AddFeedback((FeedbackReceived)e);
            }
        }

        clock.Advance(options.LabelWindow); // silent for a window: the idle flush closes the last ones
        var requests = joiner.CollectLabelled();
        var model = RankingModel.CreateInitial();
        var average = RankingModel.CreateInitial();
        var trainer = RankingTrainer.For(model, new TrainingSettings { DenseLearningRate = 1e-3f, SparseLearningRate = 0.3f, GemmThreads = 1 });
        var averaging = new Mesh.Learning.Optim.WeightAverage([.. model.Parameters], [.. average.Parameters], decay);
        foreach (var chunk in requests.Chunk(10).TakeWhile(_ => trainer.Examples < published.TrainedExamples))
        {
            trainer.Step(RankingBatch.Create([.. chunk.Select(r => r.Input)], [.. chunk.SelectMany(r => r.Labels)]));
            averaging.Update();
        }

        Assert.Equal(published.TrainedExamples, trainer.Examples);
        Assert.All(served.Parameters.Zip(average.Parameters), p => Assert.Equal(p.Second.Value.Span.ToArray(), p.First.Value.Span.ToArray()));
        Assert.Contains(served.Parameters.Zip(model.Parameters), p => !p.First.Value.Span.SequenceEqual(p.Second.Value.Span));
    }

    [Fact]
    public async Task Stats_ServedScores_NeAgainstLabels()
    {
        await using var host = await StartAsync();

        await FeedAsync(host, 100, new Random(3));

        var stats = Stats(host);
        Assert.Equal(1000, stats.GetProperty("labelledImpressions").GetInt64());
        Assert.Equal(1.0, stats.GetProperty("baseRateNe").GetDouble());
        // Served a flat 0.04 while the true rate is about 10%: worse than the base rate.
        Assert.True(stats.GetProperty("servedNe").GetDouble() > 1.0);
    }

    [Fact]
    public async Task ColdStart_HighClickRate_FirstVersionEarlyAndAtTheObservedRate()
    {
        await using var host = await StartAsync(o => (o.FirstPublishExamples, o.CalibrateColdStart) = (400, true));

        // About 66% of impressions clicked, against the library prior's 4%.
        await FeedAsync(host, 60, new Random(6), hotRate: 0.8, coldRate: 0.6);

        var first = host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All[0];
        Assert.Equal((1, 400), (first.Version, first.TrainedExamples));
        Assert.True(first.ValidationNe < first.PreviousNe - 0.3, $"NE {first.ValidationNe} vs {first.PreviousNe}");
        var checkpoint = (await host.State.GetAsync<ModelCheckpoint>(Components.ModelStore, first.CheckpointKey))!.Value;
        var scores = RankingModel.FromCheckpoint(checkpoint.Checkpoint).Score(Tiers.Large, new RankingInput
        {
            UserId = "someone-else",
            Context = new RankContext(),
            At = host.Clock.GetUtcNow(),
            UserEmbedding = [],
            Ads = [new AdInput("new-hot", "hot"), new AdInput("new-cold", "cold")],
        }).Scores;
        Assert.All(scores, p => Assert.InRange(p, 0.5, 0.85));
    }

    [Fact]
    public async Task Cadence_EventTimeSpan_WindowDecidesBeforeItsExampleCount()
    {
        // Requests 0.1 s apart in event time, 10 per batch: a window decides once its examples span 10 s, at the
        // batches ending with requests 109 (10.8 s after the first) and 209, long before 100,000 examples.
        await using var host = await StartAsync(o =>
        {
            (o.ValidationWindow, o.FirstPublishExamples, o.ValidationWindowTime, o.MinValidationExamples) = (100_000, 100_000, TimeSpan.FromSeconds(10), 100);
            o.BatchRequests = 10;
        });

        await FeedAsync(host, 300, new Random(2));

        var trainer = Stats(host).GetProperty("trainer");
        Assert.Equal(2, trainer.GetProperty("windows").GetInt64());
        Assert.Equal(3000, trainer.GetProperty("trainedExamples").GetInt64());
    }

    [Fact]
    public async Task Collect_BacklogOverTheBound_ShedsTheOldestCounted()
    {
        await using var host = await StartAsync(o => o.MaxBacklogExamples = 1000);

        await FeedAsync(host, 300, new Random(2)); // one collection of 3,000 labelled examples

        var stats = Stats(host);
        var trainer = stats.GetProperty("trainer");
        Assert.Equal((2000, 1000), (trainer.GetProperty("shedExamples").GetInt64(), trainer.GetProperty("trainedExamples").GetInt64()));
        Assert.Equal(3000, stats.GetProperty("labelledImpressions").GetInt64()); // still counted as served
    }

    [Fact]
    public async Task Restart_LatestCheckpoint_ResumesFromIt()
    {
        await using var host = await StartAsync();
        await FeedAsync(host, 4 * Window / 10, new Random(4));
        var last = host.Services.GetRequiredService<EventRecorder<ModelPublished>>().All[^1].Version;

        await using var restarted = await EmbeddedHost.StartAsync(b =>
        {
            b.Services.AddSingleton<IStateStore>(host.State);
            b.AddTrainer();
        });

        Assert.Equal(last, restarted.Services.GetRequiredService<StreamingTrainer>().PublishedVersion);
    }
}
