using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Trainer.Tests;

/// <summary>
/// The real trainer app on the Dapr runtime (the SDK), against a fake sidecar: impressions arrive in bulk, feedback one
/// CloudEvent at a time, and a closed validation window shows up as checkpoint saves and a <c>model-published</c> publish.
/// </summary>
[Trait("Category", "Slow")] // each test starts the trainer with its model (2-7 s here)
public sealed class DaprModeTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = TestClock.Create();
    private FakeDaprSidecar _sidecar = null!;
    private WebApplicationFactory<TrainerOptions> _app = null!;

    private StreamingTrainer Trainer => _app.Services.GetRequiredService<StreamingTrainer>();

    private SubscriptionCounters Impressions => _app.Services.GetRequiredService<DeliveryMetrics>().For(AppIds.Trainer, Topics.Impressions);

    public async Task InitializeAsync()
    {
        _sidecar = await FakeDaprSidecar.StartAsync();
        _app = new WebApplicationFactory<TrainerOptions>().WithWebHostBuilder(b =>
        {
            _sidecar.Configure(b);
            // Two windows of ten labelled impressions; the tests collect themselves instead of the hourly loop.
            b.UseSetting("Trainer:ValidationWindow", "10");
            b.UseSetting("Trainer:FirstPublishExamples", "10");
            b.UseSetting("Trainer:LabelWindow", "00:00:10");
            b.UseSetting("Trainer:CollectInterval", "1.00:00:00");
            b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(_clock));
        });
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_ImpressionsInBulkFeedbackSingly()
    {
        await StartAsync();

        const string expected = """
            [{"topic":"feedback","pubsubName":"pubsub","route":"events/feedback","deadLetterTopic":"dead-letters"},
            {"topic":"impressions","pubsubName":"pubsub","route":"events/impressions","deadLetterTopic":"dead-letters",
            "bulkSubscribe":{"enabled":true,"maxMessagesCount":100,"maxAwaitDurationMs":500}}]
            """;
        Assert.Equal(expected.ReplaceLineEndings(string.Empty), _sidecar.SubscriptionsOf(AppIds.Trainer).ToJsonString());
    }

    [Fact]
    public async Task Startup_LatestPointerToMissingCheckpoint_ReadsBothAndStartsFromScratch()
    {
        _sidecar.SetState(Components.ModelStore, StateKeys.LatestRankingModel, """{"version":3,"checkpointKey":"ranker.v3"}""");
        await StartAsync();

        Assert.Equal(0, Trainer.PublishedVersion);
        Assert.Equal([StateKeys.LatestRankingModel, "ranker.v3"], _sidecar.CallsTo("GetState").Where(c => c.Target == Components.ModelStore).Select(c => c.Key));
    }

    [Fact]
    public async Task Impressions_BulkWithPoisonEntry_OneStatusPerEntry()
    {
        await StartAsync();

        var (status, body) = await _sidecar.DeliverBulkAsync(AppIds.Trainer, Topics.Impressions,
            ("e1", "ce-1", ImpressionsEvent("ce-1", "2026-01-05T12:00:00Z", "i-a")),
            ("e2", "ce-2", """{"requestId":"r","items":"not a list"}"""),
            ("e3", "ce-3", ImpressionsEvent("ce-3", "2026-01-05T12:00:01Z", "i-b")));

        Assert.Equal(200, status);
        Assert.Equal(
            """{"statuses":[{"entryId":"e1","status":"SUCCESS"},{"entryId":"e2","status":"DROP"},{"entryId":"e3","status":"SUCCESS"}]}""",
            body);
        Assert.Equal((3L, 2L, 1L), (Impressions.Received, Impressions.Delivered, Impressions.Poison));
        Assert.Equal(20, PendingLabels());
    }

    [Fact]
    public async Task Impressions_SameBatchRedelivered_JoinedOnce()
    {
        await StartAsync();
        (string, string, string)[] batch = [("e1", "ce-1", ImpressionsEvent("ce-1", "2026-01-05T12:00:00Z", "i-a")), ("e2", "ce-2", ImpressionsEvent("ce-2", "2026-01-05T12:00:00Z", "i-b"))];

        await _sidecar.DeliverBulkAsync(AppIds.Trainer, Topics.Impressions, batch);
        var (_, again) = await _sidecar.DeliverBulkAsync(AppIds.Trainer, Topics.Impressions, batch);

        Assert.Equal("""{"statuses":[{"entryId":"e1","status":"SUCCESS"},{"entryId":"e2","status":"SUCCESS"}]}""", again);
        Assert.Equal((4L, 2L, 2L), (Impressions.Received, Impressions.Delivered, Impressions.Duplicates));
        Assert.Equal(20, PendingLabels());
    }

    [Fact]
    public async Task WindowBeatsServingModel_SavesGraphsCheckpointAndPointerThenPublishesJson()
    {
        await StartAsync();
        await FeedTwoWindowsAsync();

        await Trainer.CollectAsync(CancellationToken.None);

        var saves = _sidecar.CallsTo("SaveState");
        Assert.Equal(
            ["ranker.v1.user-tower.onnx", "ranker.v1.small.onnx", "ranker.v1.large.onnx", "ranker.v1", StateKeys.LatestRankingModel],
            saves.Select(s => s.Key));
        Assert.All(saves, s => Assert.Equal(Components.ModelStore, s.Target));
        // Plain last-write saves: no etag, no concurrency, no TTL on a checkpoint.
        Assert.All(saves, s => Assert.Equal((null, null, 0), (s.ETag, s.Concurrency, s.Metadata!.Count)));

        // Each graph is an ONNX model of version 1, base64 in JSON.
        var graph = saves[2].Json;
        Assert.Equal(["version", "graph", "createdAt", "onnx"], graph.EnumerateObject().Select(p => p.Name));
        var onnx = global::Onnx.ModelProto.Parser.ParseFrom(graph.GetProperty("onnx").GetBytesFromBase64());
        Assert.Equal(("large", "1"), (onnx.Graph.Name, onnx.MetadataProps.Single(p => p.Key == "mesh.version").Value));

        var checkpoint = saves[3].Json;
        Assert.Equal(["version", "trainedExamples", "createdAt", "checkpoint"], checkpoint.EnumerateObject().Select(p => p.Name));
        Assert.Equal((1, 20, "2026-01-05T12:00:12+00:00"), (checkpoint.GetProperty("version").GetInt64(), checkpoint.GetProperty("trainedExamples").GetInt64(), checkpoint.GetProperty("createdAt").GetString()));
        // The learning engine's binary checkpoint, base64: it begins with the magic "MESHCKPT".
        Assert.StartsWith("TUVTSENLUFQ", checkpoint.GetProperty("checkpoint").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, Mesh.Models.RankingModel.FromCheckpoint(checkpoint.GetProperty("checkpoint").GetBytesFromBase64()).Version);
        Assert.Equal(
            """{"version":1,"checkpointKey":"ranker.v1","graphKeys":{"user-tower":"ranker.v1.user-tower.onnx","small":"ranker.v1.small.onnx","large":"ranker.v1.large.onnx"}}""",
            saves[4].BodyText);

        var publish = Assert.Single(_sidecar.CallsTo("PublishEvent"));
        Assert.Equal(("pubsub", Topics.ModelPublished, "application/json"), (publish.Target, publish.Key, publish.ContentType));
        var published = publish.Json;
        // Progressive validation: window 1 was predicted by the untrained weights alone (serving's own) and cannot tell;
        // window 2 was predicted after training on window 1, did better, and the weights published have trained on both.
        Assert.Equal((1, "ranker.v1", 20), (published.GetProperty("version").GetInt64(), published.GetProperty("checkpointKey").GetString(), published.GetProperty("trainedExamples").GetInt64()));
        Assert.Equal("ranker.v1.small.onnx", published.GetProperty("graphKeys").GetProperty("small").GetString());
        Assert.True(published.GetProperty("validationNe").GetDouble() <= published.GetProperty("previousNe").GetDouble());
        Assert.Equal(1, Trainer.PublishedVersion);
    }

    [Fact]
    public async Task CheckpointSaveFails_NothingPublishedAndVersionUnchanged()
    {
        _sidecar.Fail("SaveState", Components.ModelStore);
        await StartAsync();
        await FeedTwoWindowsAsync();

        await Assert.ThrowsAsync<StateStoreException>(() => Trainer.CollectAsync(CancellationToken.None));

        Assert.Single(_sidecar.CallsTo("SaveState"));
        Assert.Empty(_sidecar.CallsTo("PublishEvent"));
        Assert.Equal(0, Trainer.PublishedVersion);
    }

    private Task StartAsync() => _sidecar.ConnectAppAsync(AppIds.Trainer, _app.CreateClient());

    /// <summary>Two requests of ten ads a second apart; the three "hot" ads of each are clicked, then both label windows close.</summary>
    private async Task FeedTwoWindowsAsync()
    {
        await _sidecar.DeliverBulkAsync(AppIds.Trainer, Topics.Impressions,
            ("e1", "ce-1", ImpressionsEvent("ce-1", "2026-01-05T12:00:00Z", "i-a")),
            ("e2", "ce-2", ImpressionsEvent("ce-2", "2026-01-05T12:00:01Z", "i-b")));
        foreach (var impressionId in new[] { "i-a0", "i-a1", "i-a2", "i-b0", "i-b1", "i-b2" })
        {
            var (_, reply) = await _sidecar.DeliverAsync(AppIds.Trainer, Topics.Feedback, "fb-" + impressionId,
                $$"""{"feedbackId":"f-{{impressionId}}","impressionId":"{{impressionId}}","userId":"u1","adId":"a","kind":"click","occurredAt":"2026-01-05T12:00:03Z"}""");
            Assert.Equal("""{"status":"SUCCESS"}""", reply);
        }

        _clock.Advance(TimeSpan.FromSeconds(12));
    }

    // Ten ads, a0-a2 of category "hot", a3-a9 "cold", impression ids <prefix>0..9; the user's embedding came from the
    // store with the two events it summarises.
    private static string ImpressionsEvent(string id, string servedAt, string impressionPrefix)
    {
        var items = string.Join(',', Enumerable.Range(0, 10).Select(i =>
            $$"""{"impressionId":"{{impressionPrefix}}{{i}}","adId":"a{{i}}","category":"{{(i < 3 ? "hot" : "cold")}}","position":{{i}},"score":0.1}"""));
        var vector = string.Join(',', Enumerable.Repeat("0.1", 32));
        return $$"""
            {"schemaVersion":2,"requestId":"r-{{id}}","userId":"u1","servedAt":"{{servedAt}}","context":{"surface":"feed","device":"web","hour":12},
             "modelVersion":0,"tier":"large","embedding":{"source":"store","vector":[{{vector}}],"modelVersion":0,"ageMs":1500,
             "recent":[{"category":"hot","kind":"engage","occurredAt":"2026-01-05T11:59:40Z"},{"category":"cold","kind":"view","occurredAt":"2026-01-05T11:59:58.5Z"}]},
             "candidateCount":10,"items":[{{items}}]}
            """;
    }

    private int PendingLabels() => _app.Services.GetRequiredService<LabelJoiner>().PendingCount;
}
