using System.Text;
using System.Text.Json;
using Mesh.Runtime;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Trainer.Tests;

/// <summary>
/// The real trainer app on the Dapr runtime: impressions arrive in bulk (protocol §2.5), feedback one CloudEvent at a
/// time, and a closed validation window shows up as checkpoint writes and a <c>model-published</c> publish.
/// </summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private const string LatestPath = "/v1.0/state/models/ranker.latest";
    private const string ModelsPath = "/v1.0/state/models";
    private const string ModelPublishedPath = "/v1.0/publish/pubsub/model-published";

    private readonly FakeTimeProvider _clock = TestClock.Create();
    private FakeSidecar _sidecar = null!;
    private WebApplicationFactory<TrainerOptions> _app = null!;

    private StreamingTrainer Trainer => _app.Services.GetRequiredService<StreamingTrainer>();

    private SubscriptionCounters Impressions => _app.Services.GetRequiredService<DeliveryMetrics>().For("trainer", "impressions");

    public async Task InitializeAsync()
    {
        _sidecar = await FakeSidecar.StartAsync();
        _app = new WebApplicationFactory<TrainerOptions>().WithWebHostBuilder(b =>
        {
            b.UseSetting("MeshRuntime:Runtime", "Dapr");
            b.UseSetting("DaprSidecar:HttpEndpoint", _sidecar.Url.ToString().TrimEnd('/'));
            // Two windows of ten labelled impressions; the tests collect themselves instead of the hourly loop.
            b.UseSetting("Trainer:ValidationWindow", "10");
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
        var json = await _app.CreateClient().GetStringAsync(new Uri("/dapr/subscribe", UriKind.Relative));

        const string expected = """
            [{"pubsubName":"pubsub","topic":"feedback","route":"events/feedback","deadLetterTopic":"dead-letters"},
            {"pubsubName":"pubsub","topic":"impressions","route":"events/impressions","deadLetterTopic":"dead-letters",
            "bulkSubscribe":{"enabled":true,"maxMessagesCount":100,"maxAwaitDurationMs":500}}]
            """;
        Assert.Equal(expected.ReplaceLineEndings(string.Empty), json);
    }

    [Fact]
    public void Startup_LatestPointerToMissingCheckpoint_ReadsBothAndStartsFromScratch()
    {
        _sidecar.On("GET", LatestPath, FakeResponse.Json("""{"version":3,"checkpointKey":"ranker.v3"}""", headers: new Dictionary<string, string> { ["ETag"] = "9" }));

        var version = Trainer.PublishedVersion;

        Assert.Equal(0, version);
        Assert.Equal(["GET " + LatestPath, "GET /v1.0/state/models/ranker.v3"], SidecarCalls());
    }

    [Fact]
    public async Task Impressions_BulkWithPoisonEntry_OneStatusPerEntry()
    {
        var (status, body) = await PostBulkAsync(
            Entry("e1", ImpressionsEvent("ce-1", "2026-01-05T12:00:00Z", "i-a")),
            Entry("e2", CloudEvent("ce-2", "impressions", """{"requestId":"r","items":"not a list"}""")),
            Entry("e3", ImpressionsEvent("ce-3", "2026-01-05T12:00:01Z", "i-b")));

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
        string[] batch = [Entry("e1", ImpressionsEvent("ce-1", "2026-01-05T12:00:00Z", "i-a")), Entry("e2", ImpressionsEvent("ce-2", "2026-01-05T12:00:00Z", "i-b"))];

        await PostBulkAsync(batch);
        var (_, again) = await PostBulkAsync(batch);

        Assert.Equal("""{"statuses":[{"entryId":"e1","status":"SUCCESS"},{"entryId":"e2","status":"SUCCESS"}]}""", again);
        Assert.Equal((4L, 2L, 2L), (Impressions.Received, Impressions.Delivered, Impressions.Duplicates));
        Assert.Equal(20, PendingLabels());
    }

    [Fact]
    public async Task WindowBeatsServingModel_SavesCheckpointAndPointerThenPublishesJson()
    {
        await FeedTwoWindowsAsync();

        await Trainer.CollectAsync(CancellationToken.None);

        Assert.Equal(["POST " + ModelsPath, "POST " + ModelsPath, "POST " + ModelPublishedPath], SidecarCalls().SkipWhile(c => c.StartsWith("GET ", StringComparison.Ordinal)));
        var saves = _sidecar.RequestsTo("POST", ModelsPath);
        var checkpoint = JsonDocument.Parse(saves[0].Body).RootElement[0];
        Assert.Equal("ranker.v1", checkpoint.GetProperty("key").GetString());
        // Plain last-write saves: no etag, no options, no TTL on a checkpoint.
        Assert.Equal(["key", "value"], checkpoint.EnumerateObject().Select(p => p.Name));
        var value = checkpoint.GetProperty("value");
        Assert.Equal(["version", "trainedExamples", "createdAt", "checkpoint"], value.EnumerateObject().Select(p => p.Name));
        Assert.Equal((1, 20, "2026-01-05T12:00:12+00:00"), (value.GetProperty("version").GetInt64(), value.GetProperty("trainedExamples").GetInt64(), value.GetProperty("createdAt").GetString()));
        // The learning engine's binary checkpoint, base64: it begins with the magic "MESHCKPT".
        Assert.StartsWith("TUVTSENLUFQ", value.GetProperty("checkpoint").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, Mesh.Models.RankingModel.FromCheckpoint(value.GetProperty("checkpoint").GetBytesFromBase64()).Version);
        Assert.Equal("""[{"key":"ranker.latest","value":{"version":1,"checkpointKey":"ranker.v1"}}]""", saves[1].BodyText);

        var publish = _sidecar.RequestsTo("POST", ModelPublishedPath)[0];
        Assert.Equal("application/json", publish.ContentType);
        var published = JsonDocument.Parse(publish.Body).RootElement;
        // Progressive validation: window 1 was predicted by the untrained weights alone (serving's own) and cannot tell;
        // window 2 was predicted after training on window 1, did better, and the weights published have trained on both.
        Assert.Equal((1, "ranker.v1", 20), (published.GetProperty("version").GetInt64(), published.GetProperty("checkpointKey").GetString(), published.GetProperty("trainedExamples").GetInt64()));
        Assert.True(published.GetProperty("validationNe").GetDouble() <= published.GetProperty("previousNe").GetDouble());
        Assert.Equal(1, Trainer.PublishedVersion);
    }

    [Fact]
    public async Task CheckpointSaveAnswers500_NothingPublishedAndVersionUnchanged()
    {
        _sidecar.On("POST", ModelsPath, FakeResponse.Error(500, "ERR_STATE_SAVE", "redis down"));
        await FeedTwoWindowsAsync();

        await Assert.ThrowsAsync<StateStoreException>(() => Trainer.CollectAsync(CancellationToken.None));

        Assert.Single(_sidecar.RequestsTo("POST", ModelsPath));
        Assert.Empty(_sidecar.RequestsTo("POST", ModelPublishedPath));
        Assert.Equal(0, Trainer.PublishedVersion);
    }

    /// <summary>Two requests of ten ads a second apart; the three "hot" ads of each are clicked, then both label windows close.</summary>
    private async Task FeedTwoWindowsAsync()
    {
        await PostBulkAsync(
            Entry("e1", ImpressionsEvent("ce-1", "2026-01-05T12:00:00Z", "i-a")),
            Entry("e2", ImpressionsEvent("ce-2", "2026-01-05T12:00:01Z", "i-b")));
        foreach (var impressionId in new[] { "i-a0", "i-a1", "i-a2", "i-b0", "i-b1", "i-b2" })
        {
            var feedback = CloudEvent("fb-" + impressionId, "feedback",
                $$"""{"feedbackId":"f-{{impressionId}}","impressionId":"{{impressionId}}","userId":"u1","adId":"a","kind":"click","occurredAt":"2026-01-05T12:00:03Z"}""");
            using var response = await _app.CreateClient().PostAsync(
                new Uri("/events/feedback", UriKind.Relative), new StringContent(feedback, Encoding.UTF8, "application/cloudevents+json"));
            Assert.Equal("""{"status":"SUCCESS"}""", await response.Content.ReadAsStringAsync());
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
        return CloudEvent(id, "impressions", $$"""
            {"schemaVersion":2,"requestId":"r-{{id}}","userId":"u1","servedAt":"{{servedAt}}","context":{"surface":"feed","device":"web","hour":12},
             "modelVersion":0,"tier":"large","embedding":{"source":"store","vector":[{{vector}}],"modelVersion":0,"ageMs":1500,
             "recent":[{"category":"hot","kind":"engage","occurredAt":"2026-01-05T11:59:40Z"},{"category":"cold","kind":"view","occurredAt":"2026-01-05T11:59:58.5Z"}]},
             "candidateCount":10,"items":[{{items}}]}
            """);
    }

    private static string CloudEvent(string id, string topic, string dataJson) => $$"""
        {"id":"{{id}}","specversion":"1.0","datacontenttype":"application/json","source":"router","type":"com.dapr.event.sent",
         "topic":"{{topic}}","pubsubname":"pubsub","traceid":"","traceparent":"","tracestate":"","time":"2026-01-05T12:00:00Z","data":{{dataJson}}}
        """;

    // A bulk entry as daprd builds it (§2.5): the CloudEvent object as stored in the broker.
    private static string Entry(string entryId, string cloudEvent) =>
        $$"""{"entryId":"{{entryId}}","event":{{cloudEvent}},"metadata":{},"contentType":"application/cloudevents+json"}""";

    private async Task<(int Status, string Body)> PostBulkAsync(params string[] entries)
    {
        var body = $$"""{"id":"b1","type":"com.dapr.event.sent.bulk","topic":"impressions","pubsubname":"pubsub","metadata":{},"entries":[{{string.Join(',', entries)}}]}""";
        using var response = await _app.CreateClient().PostAsync(new Uri("/events/impressions", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private int PendingLabels() => _app.Services.GetRequiredService<LabelJoiner>().PendingCount;

    // What the app asked of daprd, minus the startup wait on /v1.0/healthz/outbound.
    private string[] SidecarCalls() =>
        [.. _sidecar.Requests.Where(r => !r.Path.StartsWith("/v1.0/healthz", StringComparison.Ordinal)).Select(r => $"{r.Method} {r.Path}")];
}
