using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mesh.Testing;

namespace Mesh.Ranker.Tests;

/// <summary>The real ranker app on the Dapr runtime: what daprd sees of it.</summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private DaprModeApp<RankerOptions> _mesh = null!;

    public async Task InitializeAsync() => _mesh = await DaprModeApp.StartAsync<RankerOptions>(
        ("Ranker:PrecomputedTimeout", "00:01:00")); // the deadline runs on the real clock here; the test is about the request

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    [Fact]
    public async Task Subscribe_ListsModelPublishedWithDeadLetter()
    {
        var subscriptions = await _mesh.App.CreateClient().GetFromJsonAsync<JsonElement>("/dapr/subscribe");

        var s = Assert.Single(subscriptions.EnumerateArray());
        Assert.Equal("pubsub", s.GetProperty("pubsubName").GetString());
        Assert.Equal("model-published", s.GetProperty("topic").GetString());
        Assert.Equal("events/model-published", s.GetProperty("route").GetString());
        Assert.Equal("dead-letters", s.GetProperty("deadLetterTopic").GetString());
    }

    [Fact]
    public async Task Score_InvokedByDaprd_ReadsPrecomputedInBulkAndAnswers200()
    {
        var body = """
            {"requestId":"r1","userId":"u1","userEmbedding":[],"context":{"surface":"feed","device":"ios","hour":3},
             "candidates":[{"adId":"a1","category":"c1"},{"adId":"a2","category":"c2"}],
             "cascade":[{"tier":"small","keep":2},{"tier":"large","keep":1,"exitThreshold":0.5}]}
            """;

        var response = await _mesh.App.CreateClient().PostAsync("/score", new StringContent(body, Encoding.UTF8, "application/json"));

        response.EnsureSuccessStatusCode();
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Single(reply.GetProperty("items").EnumerateArray());
        // Small: 2 candidates through its one layer; large: 2 through three layers (the untrained model ties: none exits).
        Assert.Equal(2 + 6, reply.GetProperty("candidateLayers").GetInt64());
        var bulk = Assert.Single(_mesh.Sidecar.RequestsTo("POST", "/v1.0/state/precomputed/bulk"));
        var keys = JsonDocument.Parse(bulk.Body).RootElement.GetProperty("keys").EnumerateArray().Select(k => k.GetString()).Order();
        Assert.Equal(["u1:a1", "u1:a2"], keys);
    }

    [Fact]
    public async Task ModelPublished_CloudEventFromDaprd_CheckpointMissing_AnswersRetry()
    {
        const string cloudEvent = """
            {"id":"5929aaac-a5e2-4ca1-859c-edfe73f11565","specversion":"1.0","datacontenttype":"application/json",
             "source":"trainer","type":"com.dapr.event.sent","topic":"model-published","pubsubname":"pubsub",
             "traceid":"","traceparent":"","tracestate":"","time":"2026-01-05T12:00:00Z",
             "data":{"schemaVersion":1,"modelName":"ranker","version":3,"checkpointKey":"ranker.v3","publishedAt":"2026-01-05T12:00:00Z",
                     "trainedExamples":6000,"validationNe":0.93,"previousNe":0.95}}
            """;

        var response = await _mesh.App.CreateClient().PostAsync("/events/model-published", new StringContent(cloudEvent, Encoding.UTF8, "application/cloudevents+json"));

        response.EnsureSuccessStatusCode();
        Assert.Equal("RETRY", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        Assert.Single(_mesh.Sidecar.RequestsTo("GET", "/v1.0/state/models/ranker.v3"));
    }
}
