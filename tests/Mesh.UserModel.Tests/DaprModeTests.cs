using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mesh.Models;
using Mesh.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.UserModel.Tests;

/// <summary>
/// The real user-model app on the Dapr runtime, seen only through its <c>user-events</c> route and what it asks of daprd.
/// Kept small on purpose: user-model's state handling is moving into an actor, which changes the requests below.
/// </summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private FakeSidecar _sidecar = null!;
    private WebApplicationFactory<UserModelOptions> _app = null!;

    public async Task InitializeAsync()
    {
        _sidecar = await FakeSidecar.StartAsync();
        _app = new WebApplicationFactory<UserModelOptions>().WithWebHostBuilder(b =>
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
    public async Task UserEvent_NewUser_SavesLogFirstWriteThenEmbeddingWithTtlAndPublishesJson()
    {
        var status = await PostUserEventAsync("e1", """{"schemaVersion":1,"eventId":"e1","userId":"u1","kind":"view","itemId":"i1","category":"c1","occurredAt":"2026-01-05T11:59:00Z"}""");

        Assert.Equal("SUCCESS", status);
        Assert.Equal(
            [
                "GET /v1.0/state/user-activity/u1",
                "POST /v1.0/state/user-activity",
                "POST /v1.0/state/embeddings",
                "POST /v1.0/publish/pubsub/user-embeddings",
            ],
            SidecarCalls());

        // No etag for a key that does not exist yet, so first-write makes a concurrent creator fail instead of overwrite.
        Assert.Equal(
            """[{"key":"u1","value":{"events":[{"eventId":"e1","kind":"view","itemId":"i1","category":"c1","occurredAt":"2026-01-05T11:59:00+00:00"}]},"options":{"concurrency":"first-write"}}]""",
            _sidecar.RequestsTo("POST", "/v1.0/state/user-activity")[0].BodyText);

        var embedding = Assert.Single(JsonDocument.Parse(_sidecar.RequestsTo("POST", "/v1.0/state/embeddings")[0].Body).RootElement.EnumerateArray());
        Assert.Equal("u1", embedding.GetProperty("key").GetString());
        Assert.Equal("""{"ttlInSeconds":"604800"}""", embedding.GetProperty("metadata").GetRawText());
        Assert.Equal("2026-01-05T12:00:00+00:00", embedding.GetProperty("value").GetProperty("computedAt").GetString());
        Assert.Equal(ItemVectors.Dimension, embedding.GetProperty("value").GetProperty("vector").GetArrayLength());

        var publish = _sidecar.RequestsTo("POST", "/v1.0/publish/pubsub/user-embeddings")[0];
        Assert.Equal("application/json", publish.ContentType);
        var published = JsonDocument.Parse(publish.Body).RootElement;
        Assert.Equal("u1", published.GetProperty("userId").GetString());
        Assert.Equal(1, published.GetProperty("embedding").GetProperty("eventCount").GetInt32());
    }

    [Fact]
    public async Task UserEvent_KnownUser_SavesWithTheStoredEtagAsAString()
    {
        _sidecar.On("GET", "/v1.0/state/user-activity/u2", FakeResponse.Json(
            """{"events":[{"eventId":"e0","kind":"engage","itemId":"i0","category":"c0","occurredAt":"2026-01-05T11:00:00+00:00"}]}""",
            headers: new Dictionary<string, string> { ["ETag"] = "17" }));

        var status = await PostUserEventAsync("e2", """{"eventId":"e2","userId":"u2","kind":"view","itemId":"i2","category":"c2","occurredAt":"2026-01-05T11:59:00Z"}""");

        Assert.Equal("SUCCESS", status);
        var save = JsonDocument.Parse(_sidecar.RequestsTo("POST", "/v1.0/state/user-activity")[0].Body).RootElement[0];
        Assert.Equal(JsonValueKind.String, save.GetProperty("etag").ValueKind);
        Assert.Equal("17", save.GetProperty("etag").GetString());
        Assert.Equal(["e0", "e2"], save.GetProperty("value").GetProperty("events").EnumerateArray().Select(e => e.GetProperty("eventId").GetString()));
    }

    [Fact]
    public async Task UserEvent_StateStoreAnswers500_RepliesRetryAndPublishesNothing()
    {
        _sidecar.On("GET", "/v1.0/state/user-activity/u3", FakeResponse.Error(500, "ERR_STATE_GET", "redis down"));

        var status = await PostUserEventAsync("e3", """{"eventId":"e3","userId":"u3","kind":"view","itemId":"i3","category":"c3","occurredAt":"2026-01-05T11:59:00Z"}""");

        Assert.Equal("RETRY", status);
        Assert.Equal(["GET /v1.0/state/user-activity/u3"], SidecarCalls());
    }

    [Fact]
    public async Task UserEvent_Poison_RepliesDropWithoutTouchingState()
    {
        var status = await PostUserEventAsync("e4", """{"eventId":"e4","userId":42}""");

        Assert.Equal("DROP", status);
        Assert.Empty(SidecarCalls());
    }

    private async Task<string?> PostUserEventAsync(string id, string dataJson)
    {
        var cloudEvent = $$"""
            {"id":"{{id}}","specversion":"1.0","datacontenttype":"application/json","source":"router","type":"com.dapr.event.sent",
             "topic":"user-events","pubsubname":"pubsub","traceid":"","traceparent":"","tracestate":"","time":"2026-01-05T11:59:00Z",
             "data":{{dataJson}}}
            """;
        using var response = await _app.CreateClient().PostAsync(
            new Uri("/events/user-events", UriKind.Relative), new StringContent(cloudEvent, Encoding.UTF8, "application/cloudevents+json"));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString();
    }

    // What the app asked of daprd, minus the startup wait on /v1.0/healthz/outbound.
    private string[] SidecarCalls() =>
        [.. _sidecar.Requests.Where(r => !r.Path.StartsWith("/v1.0/healthz", StringComparison.Ordinal)).Select(r => $"{r.Method} {r.Path}")];
}
