using System.Net;
using System.Text;
using System.Text.Json;
using Mesh.Runtime.Actors;
using Mesh.Runtime.Dapr;
using Mesh.Runtime.Tests.Actors;
using Mesh.Testing;
using Microsoft.AspNetCore.TestHost;

namespace Mesh.Runtime.Tests.Sidecar;

/// <summary>
/// The actor protocol on the wire (§1.7 app → daprd, §2.7 daprd → app): exact paths, verbs, bodies and statuses, seen
/// from the fake daprd that sits between the app and itself.
/// </summary>
public sealed class DaprActorEndpointsTests : IAsyncLifetime
{
    private DaprActorFixture _f = null!;

    public async Task InitializeAsync() => _f = await DaprActorFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    [Fact]
    public void Config_ListsEntitiesAndTimeoutsInDaprsShape()
    {
        var config = Assert.Single(_f.Daprd.AppCalls, c => c.Path == "/dapr/config");

        Assert.Equal(("GET", 200), (config.Method, config.Status));
        Assert.StartsWith("application/json", config.ResponseContentType, StringComparison.Ordinal);
        Assert.Equal(
            """{"entities":["counter"],"actorIdleTimeout":"1m","actorScanInterval":"10s","drainOngoingCallTimeout":"30s","drainRebalancedActors":true,"reentrancy":{"enabled":false}}""",
            config.ResponseText);
        Assert.Equal((TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(10)), (_f.Daprd.IdleTimeout, _f.Daprd.ScanInterval));
    }

    [Fact]
    public async Task Invoke_SendsActorApiCallsAndTheAppAnswersExactly200()
    {
        Assert.Equal(2, await _f.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "add", 2));

        var requests = _f.Sidecar.Requests.Where(r => r.Path.StartsWith("/v1.0/actors/", StringComparison.Ordinal)).ToList();
        Assert.Equal(
            ["POST /v1.0/actors/counter/a/method/add", "GET /v1.0/actors/counter/a/state/count", "POST /v1.0/actors/counter/a/state"],
            requests.Select(r => $"{r.Method} {r.Path}"));
        Assert.Equal("2", requests[0].BodyText);
        Assert.Equal("application/json", requests[0].ContentType?.Split(';')[0]);
        Assert.Equal("""[{"operation":"upsert","request":{"key":"count","value":2}}]""", requests[2].BodyText);

        var callback = Assert.Single(_f.Daprd.AppCalls, c => c.Path == "/actors/counter/a/method/add");
        Assert.Equal(("PUT", 200, "2", "2"), (callback.Method, callback.Status, callback.BodyText, callback.ResponseText));
        Assert.False(callback.ResponseHeaders.ContainsKey(DaprAppEndpoints.ActorErrorHeader));
    }

    [Fact]
    public async Task SaveState_TtlAsStringMetadataAndRemoveAsDelete()
    {
        await _f.Actors.InvokeAsync<SetRequest, bool>(CounterActor.Type, "a", "set", new SetRequest("ttl", 7, TimeSpan.FromSeconds(30)));
        await _f.Actors.InvokeAsync<string, bool>(CounterActor.Type, "a", "remove", "ttl");

        var saves = _f.Sidecar.RequestsTo("POST", "/v1.0/actors/counter/a/state");
        Assert.Equal(
            [
                """[{"operation":"upsert","request":{"key":"ttl","value":7,"metadata":{"ttlInSeconds":"30"}}}]""",
                """[{"operation":"delete","request":{"key":"ttl"}}]""",
            ],
            saves.Select(s => s.BodyText));
    }

    [Fact]
    public async Task Reminder_RegisterFireAndUnregister_ExactRequests()
    {
        var data = JsonDocument.Parse("""{"n":1}""").RootElement;
        await _f.Actors.InvokeAsync<ReminderRequest, bool>(CounterActor.Type, "a", "remind", new ReminderRequest("tick", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), data));
        await _f.Actors.InvokeAsync<ReminderRequest, bool>(CounterActor.Type, "a", "remind", new ReminderRequest("once", TimeSpan.FromMilliseconds(1500)));

        Assert.Equal(
            """{"dueTime":"10s","period":"5s","data":{"n":1}}""",
            Assert.Single(_f.Sidecar.RequestsTo("POST", "/v1.0/actors/counter/a/reminders/tick")).BodyText);
        Assert.Equal(
            """{"dueTime":"1s500ms","period":""}""",
            Assert.Single(_f.Sidecar.RequestsTo("POST", "/v1.0/actors/counter/a/reminders/once")).BodyText);

        _f.Clock.Advance(TimeSpan.FromSeconds(10));
        await _f.Daprd.WaitForIdleAsync();

        var tick = Assert.Single(_f.Daprd.AppCalls, c => c.Path == "/actors/counter/a/method/remind/tick");
        Assert.Equal(("PUT", 200, ""), (tick.Method, tick.Status, tick.ResponseText));
        Assert.Equal("""{"data":{"n":1},"dueTime":"10s","period":"5s"}""", tick.BodyText);
        Assert.Equal(200, Assert.Single(_f.Daprd.AppCalls, c => c.Path == "/actors/counter/a/method/remind/once").Status);

        await _f.Actors.InvokeAsync<string, bool>(CounterActor.Type, "a", "forget", "tick");
        Assert.Single(_f.Sidecar.RequestsTo("DELETE", "/v1.0/actors/counter/a/reminders/tick"));
    }

    [Fact]
    public async Task IdleActor_DeleteCallbackAnswers200AfterSavingItsLastState()
    {
        await _f.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "add", 1);

        _f.Clock.Advance(TimeSpan.FromMinutes(1));
        await _f.Daprd.WaitForIdleAsync();

        var delete = Assert.Single(_f.Daprd.AppCalls, c => c.Method == "DELETE");
        Assert.Equal(("/actors/counter/a", 200), (delete.Path, delete.Status));
        Assert.Equal(
            """[{"operation":"upsert","request":{"key":"deactivations","value":1}}]""",
            _f.Sidecar.RequestsTo("POST", "/v1.0/actors/counter/a/state")[^1].BodyText);
        Assert.Empty(_f.Daprd.ActiveActors);
    }

    [Fact]
    public async Task Invoke_ActorThrows_AppAnswers200WithErrorHeaderAndNoStateIsSaved()
    {
        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => _f.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "fail", 9));

        Assert.Equal(500, e.StatusCode);
        var callback = Assert.Single(_f.Daprd.AppCalls, c => c.Path == "/actors/counter/a/method/fail");
        Assert.Equal(200, callback.Status);
        Assert.Equal("true", callback.ResponseHeaders[DaprAppEndpoints.ActorErrorHeader]);
        Assert.Equal("""{"status":500,"title":"Actor method \u0027fail\u0027 failed."}""", callback.ResponseText);
        Assert.Empty(_f.Sidecar.RequestsTo("POST", "/v1.0/actors/counter/a/state"));
    }

    [Fact]
    public async Task Invoke_MalformedRequest_AppAnswers200WithErrorHeaderSaying400()
    {
        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => _f.Actors.InvokeAsync<string, long>(CounterActor.Type, "a", "add", "x"));

        Assert.Equal(400, e.StatusCode);
        var callback = Assert.Single(_f.Daprd.AppCalls, c => c.Path == "/actors/counter/a/method/add");
        Assert.Equal(200, callback.Status);
        Assert.Contains(DaprAppEndpoints.ActorErrorHeader, callback.ResponseHeaders.Keys);
    }

    [Fact]
    public async Task Invoke_UnknownMethod_AppAnswers404WhichDaprdFoldsInto500()
    {
        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => _f.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "nope", 1));

        Assert.Equal(404, Assert.Single(_f.Daprd.AppCalls, c => c.Path == "/actors/counter/a/method/nope").Status);
        Assert.Equal(500, e.StatusCode);
        Assert.Contains("ERR_ACTOR_INVOKE_METHOD", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invoke_SidecarRefuses_ThrowsWithDaprdsStatusAndCode()
    {
        _f.Sidecar.On("POST", "/v1.0/actors/counter/a/method/add", FakeResponse.Error(500, "ERR_ACTOR_INVOKE_METHOD", "did not find address for actor"));

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => _f.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "add", 1));

        Assert.Equal(500, e.StatusCode);
        Assert.Contains("did not find address", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(_f.Daprd.AppCalls, c => c.Path.StartsWith("/actors/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RegisterReminder_SidecarRefuses_TheTurnFails()
    {
        _f.Sidecar.On("POST", "/v1.0/actors/counter/a/reminders/r", FakeResponse.Error(500, "ERR_ACTOR_REMINDER_CREATE", "scheduler unavailable"));

        var e = await Assert.ThrowsAsync<ActorInvocationException>(
            () => _f.Actors.InvokeAsync<ReminderRequest, bool>(CounterActor.Type, "a", "remind", new ReminderRequest("r", TimeSpan.FromSeconds(1))));

        Assert.Equal(500, e.StatusCode);
        Assert.Equal(0, _f.Daprd.ReminderCount);
    }

    [Fact]
    public async Task MethodCallback_ConcurrentCallsForOneId_AppSerializesTurnsItself()
    {
        // Straight to the app, past the fake daprd's own per-id lock: as if daprd misbehaved.
        var app = _f.App.GetTestClient();
        var calls = Enumerable.Range(0, 8).Select(_ => PutAsync(app, "/actors/counter/a/method/add", "1")).ToList();
        var answers = await Task.WhenAll(calls);

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.Status));
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), answers.Select(a => long.Parse(a.Body, System.Globalization.CultureInfo.InvariantCulture)).Order());
        Assert.Equal(1, _f.Journal.MaxInFlight("a"));
    }

    [Fact]
    public async Task TimerCallback_RunsItsCallbackMethodWithTheTimersData()
    {
        var (status, _) = await PutAsync(_f.App.GetTestClient(), "/actors/counter/a/method/timer/t1", """{"data":3,"dueTime":"0s","period":"","callback":"add"}""");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(3, (await _f.Actors.InvokeAsync<string, CounterStats>(CounterActor.Type, "a", "stats", "")).Count);
    }

    [Fact]
    public async Task DeleteCallback_InactiveActor200_UnknownType404()
    {
        var app = _f.App.GetTestClient();

        using var inactive = await app.DeleteAsync(new Uri("/actors/counter/never", UriKind.Relative));
        using var unknown = await app.DeleteAsync(new Uri("/actors/nope/a", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, inactive.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Callbacks_AppTokenSet_DaprdSendsItAndOthersGet401()
    {
        await using var f = await DaprActorFixture.StartAsync(appApiToken: "app-secret");
        Assert.Equal(1, await f.Actors.InvokeAsync<long, long>(CounterActor.Type, "a", "add", 1));
        Assert.All(f.Daprd.AppCalls, c => Assert.Equal(200, c.Status));

        var app = f.App.GetTestClient();
        var (put, _) = await PutAsync(app, "/actors/counter/a/method/add", "1");
        using var config = await app.GetAsync(new Uri("/dapr/config", UriKind.Relative));
        using var delete = await app.DeleteAsync(new Uri("/actors/counter/a", UriKind.Relative));

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized), (put, config.StatusCode, delete.StatusCode));
    }

    private static async Task<(HttpStatusCode Status, string Body)> PutAsync(HttpClient app, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await app.PutAsync(new Uri(path, UriKind.Relative), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }
}
