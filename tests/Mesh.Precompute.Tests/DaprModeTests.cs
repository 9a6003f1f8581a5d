using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mesh.Runtime;
using Mesh.Models;
using Mesh.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Precompute.Tests;

/// <summary>The real precompute app on the Dapr runtime: literal CloudEvents in, the exact requests it makes of daprd out.</summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private const string EmbeddingPath = "/v1.0/state/embeddings/u1";
    private const string TransactionPath = "/v1.0/state/precomputed/transaction";

    // A stored user embedding as daprd returns it: the raw JSON value and a bare ETag (protocol §1.2).
    private static readonly FakeResponse StoredEmbedding = FakeResponse.Json(
        $$"""{"vector":[{{string.Join(',', Enumerable.Repeat("0.125", ItemVectors.Dimension))}}],"modelVersion":1,"computedAt":"2026-01-05T11:59:30+00:00","eventCount":3}""",
        headers: new Dictionary<string, string> { ["ETag"] = "4" });

    private FakeSidecar _sidecar = null!;
    private WebApplicationFactory<PrecomputeOptions> _app = null!;

    public async Task InitializeAsync()
    {
        _sidecar = await FakeSidecar.StartAsync();
        _app = new WebApplicationFactory<PrecomputeOptions>().WithWebHostBuilder(b =>
        {
            b.UseSetting("MeshRuntime:Runtime", "Dapr");
            b.UseSetting("DaprSidecar:HttpEndpoint", _sidecar.Url.ToString().TrimEnd('/'));
            b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(TestClock.Create()));
        });
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_ListsItsThreeTopicsWithDeadLetters()
    {
        var json = await _app.CreateClient().GetStringAsync(new Uri("/dapr/subscribe", UriKind.Relative));

        Assert.Equal(
            """[{"pubsubName":"pubsub","topic":"impressions","route":"events/impressions","deadLetterTopic":"dead-letters"},""" +
            """{"pubsubName":"pubsub","topic":"user-embeddings","route":"events/user-embeddings","deadLetterTopic":"dead-letters"},""" +
            """{"pubsubName":"pubsub","topic":"user-events","route":"events/user-events","deadLetterTopic":"dead-letters"}]""",
            json);
    }

    [Fact]
    public async Task Impressions_KnownUser_ReadsEmbeddingThenUpsertsRepresentationsInOneTransactionWithTtl()
    {
        _sidecar.On("GET", EmbeddingPath, StoredEmbedding);

        var status = await PostAsync("impressions", Impressions("ce-1"));

        Assert.Equal("SUCCESS", status);
        Assert.Equal(["GET " + EmbeddingPath, "POST " + TransactionPath], SidecarCalls());
        var transaction = _sidecar.RequestsTo("POST", TransactionPath)[0];
        Assert.Equal("application/json", transaction.ContentType);
        var operations = JsonDocument.Parse(transaction.Body).RootElement.GetProperty("operations").EnumerateArray().ToList();
        Assert.Equal(["upsert", "upsert"], operations.Select(o => o.GetProperty("operation").GetString()));
        Assert.Equal(["u1:a1", "u1:a2"], operations.Select(o => o.GetProperty("request").GetProperty("key").GetString()));
        Assert.All(operations, o =>
        {
            var request = o.GetProperty("request");
            // A string, not a number: daprd rejects non-string metadata values (§1.2). 120 s is the default TTL.
            Assert.Equal("""{"ttlInSeconds":"120"}""", request.GetProperty("metadata").GetRawText());
            Assert.False(request.TryGetProperty("etag", out _));
            Assert.Equal(FoundationModel.Dimension, request.GetProperty("value").GetProperty("vector").GetArrayLength());
            Assert.Equal("2026-01-05T12:00:00+00:00", request.GetProperty("value").GetProperty("computedAt").GetString());
        });
    }

    [Fact]
    public async Task Impressions_SameCloudEventTwice_ComputesOnceAndAcksBoth()
    {
        _sidecar.On("GET", EmbeddingPath, StoredEmbedding);

        var first = await PostAsync("impressions", Impressions("ce-dup"));
        var second = await PostAsync("impressions", Impressions("ce-dup"));

        Assert.Equal(("SUCCESS", "SUCCESS"), (first, second));
        Assert.Single(_sidecar.RequestsTo("GET", EmbeddingPath));
        Assert.Single(_sidecar.RequestsTo("POST", TransactionPath));
        var counters = _app.Services.GetRequiredService<DeliveryMetrics>().For("precompute", "impressions");
        Assert.Equal((2L, 1L, 1L), (counters.Received, counters.Delivered, counters.Duplicates));
    }

    [Fact]
    public async Task Impressions_EmbeddingStoreAnswers500_RepliesRetry()
    {
        _sidecar.On("GET", EmbeddingPath, FakeResponse.Error(500, "ERR_STATE_GET", "redis down"));

        var status = await PostAsync("impressions", Impressions("ce-2"));

        Assert.Equal("RETRY", status);
        Assert.Empty(_sidecar.RequestsTo("POST", TransactionPath));
    }

    [Fact]
    public async Task Impressions_TransactionFails_RepliesRetryAndTheRedeliveryWritesAgain()
    {
        _sidecar.On("GET", EmbeddingPath, StoredEmbedding);
        _sidecar.On("POST", TransactionPath, FakeResponse.Error(500, "ERR_STATE_TRANSACTION", "etag mismatch"), FakeResponse.Empty());

        var first = await PostAsync("impressions", Impressions("ce-3"));
        var redelivered = await PostAsync("impressions", Impressions("ce-3"));

        // A failed attempt is not remembered as processed, so the redelivery does the work.
        Assert.Equal(("RETRY", "SUCCESS"), (first, redelivered));
        Assert.Equal(2, _sidecar.RequestsTo("POST", TransactionPath).Count);
    }

    [Fact]
    public async Task UserEmbeddings_Poison_RepliesDrop()
    {
        var status = await PostAsync("user-embeddings", CloudEvent("ce-4", "user-embeddings", """{"userId":"u1","embedding":"not an embedding"}"""));

        Assert.Equal("DROP", status);
        Assert.Empty(SidecarCalls());
    }

    private static string Impressions(string id) => CloudEvent(id, "impressions", """
        {"schemaVersion":1,"requestId":"r1","userId":"u1","servedAt":"2026-01-05T11:59:59+00:00",
         "context":{"surface":"feed","device":"ios","hour":11},"modelVersion":2,"tier":"large",
         "embedding":{"source":"store","vector":[],"modelVersion":1,"ageMs":29000},"candidateCount":2,
         "items":[{"impressionId":"i1","adId":"a1","category":"c1","position":0,"score":0.3},
                  {"impressionId":"i2","adId":"a2","category":"c2","position":1,"score":0.1}]}
        """);

    private static string CloudEvent(string id, string topic, string dataJson) => $$"""
        {"id":"{{id}}","specversion":"1.0","datacontenttype":"application/json","source":"router","type":"com.dapr.event.sent",
         "topic":"{{topic}}","pubsubname":"pubsub","traceid":"","traceparent":"","tracestate":"","time":"2026-01-05T11:59:59Z",
         "data":{{dataJson}}}
        """;

    private async Task<string?> PostAsync(string topic, string cloudEvent)
    {
        using var response = await _app.CreateClient().PostAsync(
            new Uri($"/events/{topic}", UriKind.Relative), new StringContent(cloudEvent, Encoding.UTF8, "application/cloudevents+json"));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
    }

    // What the app asked of daprd, minus the startup wait on /v1.0/healthz/outbound.
    private string[] SidecarCalls() =>
        [.. _sidecar.Requests.Where(r => !r.Path.StartsWith("/v1.0/healthz", StringComparison.Ordinal)).Select(r => $"{r.Method} {r.Path}")];
}
