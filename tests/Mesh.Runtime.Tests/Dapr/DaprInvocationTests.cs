using System.Net;
using System.Net.Http.Json;
using Mesh.Runtime.Tests.Embedded;

namespace Mesh.Runtime.Tests.Dapr;

/// <summary>Service invocation through the SDK's invoke client and the sidecar, and the methods daprd calls on the app.</summary>
public sealed class DaprInvocationTests : IAsyncLifetime
{
    private DaprTestApp _app = null!;

    private IServiceInvoker Invoker => _app.Get<IServiceInvoker>();

    public async Task InitializeAsync() => _app = await DaprTestApp.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Invoke_GoesThroughTheSidecarToTheAppsMethod()
    {
        var response = await Invoker.InvokeAsync<EchoRequest, EchoResponse>(DaprTestApp.AppId, DaprTestApp.Method, new EchoRequest("hi", TallyKind.BigStep));

        Assert.Equal(new EchoResponse("HI", TallyKind.BigStep), response);
        var call = Assert.Single(_app.Sidecar.CallsTo("InvokeService"));
        Assert.Equal((DaprTestApp.AppId, DaprTestApp.Method, "POST"), (call.Target, call.Key, call.HttpMethod));
        Assert.StartsWith("application/json", call.ContentType, StringComparison.Ordinal);
        Assert.Equal("""{"text":"hi","kind":"bigStep"}""", call.BodyText);
    }

    [Fact]
    public async Task Invoke_CalleeRefuses_400StaysInvocationException400()
    {
        var e = await Assert.ThrowsAsync<InvocationException>(() =>
            Invoker.InvokeAsync<EchoRequest, EchoResponse>(DaprTestApp.AppId, DaprTestApp.Method, new EchoRequest("", TallyKind.Plain)));

        Assert.Equal((DaprTestApp.AppId, DaprTestApp.Method, 400), (e.AppId, e.Method, e.StatusCode));
    }

    [Fact]
    public async Task Invoke_SidecarAnswers500_InvocationException500()
    {
        _app.Sidecar.Fail("InvokeService", "ranker");

        var e = await Assert.ThrowsAsync<InvocationException>(() => Invoker.InvokeAsync<Ping, Ping>("ranker", "score", new Ping(1)));

        Assert.Equal(500, e.StatusCode);
    }

    [Fact]
    public async Task Invoke_SidecarUnreachable_InvocationException503()
    {
        await _app.Sidecar.DisposeAsync();

        var e = await Assert.ThrowsAsync<InvocationException>(() => Invoker.InvokeAsync<Ping, Ping>("ranker", "score", new Ping(1)));

        Assert.Equal(503, e.StatusCode);
    }

    [Fact]
    public async Task Method_MalformedBody_400()
    {
        using var response = await _app.Client.PostAsync(new Uri("/" + DaprTestApp.Method, UriKind.Relative), JsonContent.Create(new { text = 5 }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }
}

/// <summary>APP_API_TOKEN and DAPR_API_TOKEN: what the app requires of daprd, and what the SDK presents to it.</summary>
public sealed class DaprTokenTests : IAsyncLifetime
{
    private DaprTestApp _app = null!;

    public async Task InitializeAsync() => _app = await DaprTestApp.StartAsync(apiToken: "to-daprd", appApiToken: "to-app");

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Theory]
    [InlineData("GET", "dapr/subscribe")]
    [InlineData("GET", "dapr/config")]
    [InlineData("POST", "events/pings")]
    [InlineData("POST", "echo")]
    [InlineData("PUT", "actors/tally/a/method/AddAsync")]
    public async Task AppCallback_WithoutOrWithWrongToken_401(string method, string path)
    {
        using var without = await _app.Client.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        var wrong = new HttpRequestMessage(new HttpMethod(method), path);
        wrong.Headers.Add("dapr-api-token", "guess");
        using var withWrong = await _app.Client.SendAsync(wrong);

        Assert.Equal((HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized), (without.StatusCode, withWrong.StatusCode));
    }

    [Fact]
    public async Task HealthProbe_NeedsNoToken()
    {
        using var response = await _app.Client.GetAsync(new Uri("/healthz", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Sidecar_PresentingTheAppToken_IsServed()
    {
        // ConnectAppAsync read dapr/subscribe with the token; a delivery carries it too.
        Assert.Equal(2, _app.Sidecar.SubscriptionsOf(DaprTestApp.AppId).Count);
        Assert.Equal((200, """{"status":"SUCCESS"}"""), await _app.Sidecar.DeliverAsync(DaprTestApp.AppId, DaprTestApp.Topic, "ce-1", """{"n":1}"""));
    }

    [Fact]
    public async Task Sdk_SendsDaprApiTokenOnGrpcAndHttp()
    {
        await _app.Get<IStateStore>().SaveAsync("things", "k", new Ping(1));
        await _app.Get<IEventPublisher>().PublishAsync("pings", new Ping(1));
        await _app.Get<IServiceInvoker>().InvokeAsync<EchoRequest, EchoResponse>(DaprTestApp.AppId, DaprTestApp.Method, new EchoRequest("x", TallyKind.Plain));
        await _app.Get<Mesh.Runtime.Actors.IActorInvoker>().InvokeAsync<TallyRequest, TallyResult>(TallyActor.Type, "a", "AddAsync", new TallyRequest(1, TallyKind.Plain));

        var calls = _app.Sidecar.Calls.Where(c => c.Api is not "Healthz").ToList();
        Assert.Equal(["SaveState", "PublishEvent", "InvokeService", "InvokeActor", "GetActorState", "SaveActorState"], calls.Select(c => c.Api));
        Assert.All(calls, c => Assert.Equal("to-daprd", c.ApiToken));
    }
}
