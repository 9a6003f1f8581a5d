using System.Net;
using System.Text;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Testing;
using Mesh.UserModel.Embeddings;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.UserModel.Tests;

/// <summary>The real user-model app on the Dapr runtime: daprd delivers an event, and the user actor runs behind a fake daprd.</summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _clock = TestClock.Create();
    private FakeSidecar _sidecar = null!;
    private FakeActorHost _daprd = null!;
    private WebApplicationFactory<UserModelOptions> _app = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _sidecar = await FakeSidecar.StartAsync();
        _daprd = _sidecar.EnableActors(_clock);
        _app = new WebApplicationFactory<UserModelOptions>().WithWebHostBuilder(b =>
        {
            b.UseSetting("MeshRuntime:Runtime", "Dapr");
            b.UseSetting("DaprSidecar:HttpEndpoint", _sidecar.Url.ToString().TrimEnd('/'));
            b.UseSetting("DaprSidecar:WaitForSidecar", "false");
            b.ConfigureServices(services => services.AddSingleton<TimeProvider>(_clock));
        });
        _client = _app.CreateClient();
        await _daprd.ConnectAsync(_app.CreateClient());
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_UserEventsAndModelPublished()
    {
        var json = await _client.GetStringAsync(new Uri("/dapr/subscribe", UriKind.Relative));

        var topics = JsonDocument.Parse(json).RootElement.EnumerateArray().Select(s => s.GetProperty("topic").GetString()).Order();
        Assert.Equal(["model-published", "user-events"], topics);
    }

    [Fact]
    public void Config_DeclaresTheUserActor()
    {
        Assert.Equal([ActorTypes.User], _daprd.Entities);
        Assert.Equal(TimeSpan.FromHours(1), _daprd.IdleTimeout);
    }

    [Fact]
    public async Task UserEvent_ThroughTheUserActor_StoresPublishesAndKeepsTheLog()
    {
        var at = _clock.GetUtcNow();

        Assert.Equal("""{"status":"SUCCESS"}""", await DeliverAsync("ce-1", UserActorTests.Event("e1", "c1", at)));

        Assert.Equal(
            [
                "GET /v1.0/state/models/ranker.latest", // at start-up: the latest published model, whose tower embeds
                "POST /v1.0/actors/user/u1/method/record",
                "GET /v1.0/actors/user/u1/state/activity",
                "POST /v1.0/actors/user/u1/reminders/expire",
                "POST /v1.0/state/embeddings",
                "POST /v1.0/publish/pubsub/user-embeddings",
                "POST /v1.0/actors/user/u1/state",
            ],
            _sidecar.Requests.Select(r => $"{r.Method} {r.Path}"));
        var callback = Assert.Single(_daprd.AppCalls, c => c.Path == "/actors/user/u1/method/record");
        Assert.Equal(("PUT", 200, """{"duplicate":false,"eventCount":1}"""), (callback.Method, callback.Status, callback.ResponseText));
        Assert.Equal("""{"dueTime":"168h","period":"168h"}""", Assert.Single(_sidecar.RequestsTo("POST", "/v1.0/actors/user/u1/reminders/expire")).BodyText);

        var embedding = JsonDocument.Parse(Assert.Single(_sidecar.RequestsTo("POST", "/v1.0/state/embeddings")).Body).RootElement[0];
        Assert.Equal(("u1", "604800"), (embedding.GetProperty("key").GetString(), embedding.GetProperty("metadata").GetProperty("ttlInSeconds").GetString()));
        var value = embedding.GetProperty("value");
        Assert.Equal(32, value.GetProperty("vector").GetArrayLength());
        Assert.Equal(0, value.GetProperty("modelVersion").GetInt64());
        Assert.Equal(
            """[{"category":"c1","kind":"view","occurredAt":"2026-01-05T12:00:00+00:00"}]""",
            value.GetProperty("recent").GetRawText());

        var log = JsonDocument.Parse(_daprd.StateOf(ActorTypes.User, "u1", UserActor.ActivityKey)!).RootElement;
        Assert.Equal("e1", Assert.Single(log.GetProperty("events").EnumerateArray()).GetProperty("eventId").GetString());
    }

    [Fact]
    public async Task UserEvent_RedeliveredUnderANewCloudEventId_RecordedOnceAndPublishedOnce()
    {
        var e = UserActorTests.Event("e1", "c1", _clock.GetUtcNow());

        await DeliverAsync("ce-1", e);
        Assert.Equal("""{"status":"SUCCESS"}""", await DeliverAsync("ce-2", e));

        Assert.Single(_sidecar.RequestsTo("POST", "/v1.0/publish/pubsub/user-embeddings"));
        Assert.Single(_sidecar.RequestsTo("POST", "/v1.0/actors/user/u1/state"));
        Assert.Equal(
            """{"duplicate":true,"eventCount":1}""",
            _daprd.AppCalls.Where(c => c.Path == "/actors/user/u1/method/record").Last().ResponseText);
    }

    [Fact]
    public async Task UserEvent_PublishRefused_RetryWithoutSavingTheLog()
    {
        _sidecar.On("POST", "/v1.0/publish/pubsub/user-embeddings", FakeResponse.Error(500, "ERR_PUBSUB_PUBLISH_MESSAGE", "broker down"));

        Assert.Equal("""{"status":"RETRY"}""", await DeliverAsync("ce-1", UserActorTests.Event("e1", "c1", _clock.GetUtcNow())));

        var callback = Assert.Single(_daprd.AppCalls, c => c.Path == "/actors/user/u1/method/record");
        Assert.Equal(200, callback.Status);
        Assert.True(callback.ResponseHeaders.ContainsKey("X-DaprErrorResponseHeader"));
        Assert.Null(_daprd.StateOf(ActorTypes.User, "u1", UserActor.ActivityKey));
    }

    private async Task<string> DeliverAsync(string cloudEventId, UserActed data)
    {
        var envelope = $$"""{"id":"{{cloudEventId}}","specversion":"1.0","datacontenttype":"application/json","source":"router","type":"com.dapr.event.sent","topic":"user-events","pubsubname":"pubsub","data":{{JsonSerializer.Serialize(data, MeshJson.Options)}}}""";
        using var content = new StringContent(envelope, Encoding.UTF8, "application/cloudevents+json");
        using var response = await _client.PostAsync(new Uri("/events/user-events", UriKind.Relative), content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
