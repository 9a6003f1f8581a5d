using System.Diagnostics;
using Mesh.Runtime.Dapr;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Tests.Sidecar;

public sealed class DaprSidecarClientMessagingTests : SidecarClientTests
{
    [Fact]
    public async Task PublishAsync_Event_PostsJsonWithExactlyApplicationJson()
    {
        await Host.Services.GetRequiredService<IEventPublisher>().PublishAsync("user-events", new Order("o1", 2));

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1.0/publish/pubsub/user-events", request.PathAndQuery);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("""{"id":"o1","quantity":2}""", request.BodyText);
        Assert.Equal(1, Host.Services.GetRequiredService<DeliveryMetrics>().Published);
    }

    [Fact]
    public async Task PublishAsync_PubSubNameConfigured_UsesIt()
    {
        using var host = SidecarHost.Build(Sidecar, new Dictionary<string, string?> { ["MeshRuntime:PubSubName"] = "bus" });

        await host.Services.GetRequiredService<IEventPublisher>().PublishAsync("feedback", 1);

        Assert.Equal("/v1.0/publish/bus/feedback", Assert.Single(Sidecar.Requests).PathAndQuery);
    }

    [Fact]
    public async Task PublishAsync_UnknownPubSub404_ThrowsWithErrorCodeAndCountsNothing()
    {
        Sidecar.On("POST", "/v1.0/publish/pubsub/t", FakeResponse.Error(404, "ERR_PUBSUB_NOT_FOUND", "pubsub pubsub is not found"));

        var e = await Assert.ThrowsAsync<DaprSidecarException>(() => Client.PublishAsync("t", 1));

        Assert.Equal(404, e.StatusCode);
        Assert.Equal("ERR_PUBSUB_NOT_FOUND", e.ErrorCode);
        Assert.Contains("ERR_PUBSUB_NOT_FOUND", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, Host.Services.GetRequiredService<DeliveryMetrics>().Published);
    }

    [Fact]
    public async Task InvokeAsync_CalleeAnswers_PostsJsonAndReturnsResponse()
    {
        Sidecar.On("POST", "/v1.0/invoke/ranker/method/score", FakeResponse.Json("""{"id":"r","quantity":9}"""));

        var response = await Host.Services.GetRequiredService<IServiceInvoker>().InvokeAsync<Order, Order>("ranker", "score", new Order("q", 1));

        Assert.Equal(new Order("r", 9), response);
        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1.0/invoke/ranker/method/score", request.PathAndQuery);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("""{"id":"q","quantity":1}""", request.BodyText);
    }

    [Theory]
    [InlineData(400)]
    [InlineData(404)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task InvokeAsync_CalleeErrorStatus_ThrowsInvocationExceptionWithThatStatus(int status)
    {
        Sidecar.On("POST", "/v1.0/invoke/ranker/method/score", FakeResponse.Json("""{"title":"nope"}""", status));

        var e = await Assert.ThrowsAsync<InvocationException>(() => Client.InvokeAsync<Order, Order>("ranker", "score", new Order("q", 1)));

        Assert.Equal((status, "ranker", "score"), (e.StatusCode, e.AppId, e.Method));
        Assert.Contains("nope", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task InvokeAsync_ResponseNotTheType_ThrowsInvocationException()
    {
        Sidecar.On("POST", "/v1.0/invoke/ranker/method/score", FakeResponse.Json("[]"));

        var e = await Assert.ThrowsAsync<InvocationException>(() => Client.InvokeAsync<Order, Order>("ranker", "score", new Order("q", 1)));

        Assert.Equal(200, e.StatusCode);
    }

    [Fact]
    public async Task InvokeAsync_SidecarUnreachable_ThrowsInvocationException503()
    {
        using var host = SidecarHost.Build("http://127.0.0.1:1");

        var e = await Assert.ThrowsAsync<InvocationException>(
            () => host.Services.GetRequiredService<IServiceInvoker>().InvokeAsync<int, int>("ranker", "score", 1));

        Assert.Equal(503, e.StatusCode);
    }

    [Fact]
    public async Task InvokeAsync_CurrentActivity_PropagatesTraceparentAndTracestate()
    {
        using var activity = new Activity("test").SetIdFormat(ActivityIdFormat.W3C).Start();
        activity.TraceStateString = "mesh=1";

        await Client.InvokeAsync<int, Dictionary<string, int>>("ranker", "score", 1);

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal(activity.Id, request.Header("traceparent"));
        Assert.Equal("mesh=1", request.Header("tracestate"));
    }

    [Fact]
    public async Task PublishAsync_CurrentActivity_PropagatesTraceparent()
    {
        using var activity = new Activity("test").SetIdFormat(ActivityIdFormat.W3C).Start();

        await Client.PublishAsync("t", 1);

        Assert.Equal(activity.Id, Assert.Single(Sidecar.Requests).Header("traceparent"));
    }

    [Fact]
    public async Task Requests_ApiTokenConfigured_CarryDaprApiToken()
    {
        using var host = SidecarHost.Build(Sidecar, new Dictionary<string, string?> { ["DaprSidecar:ApiToken"] = "s3cret" });
        var client = host.Services.GetRequiredService<DaprSidecarClient>();

        await client.GetAsync<int>("s", "k");
        await client.SaveAsync("s", "k", 1);
        await client.PublishAsync("t", 1);
        await client.InvokeAsync<int, Dictionary<string, int>>("ranker", "score", 1);

        Assert.Equal(4, Sidecar.Requests.Count);
        Assert.All(Sidecar.Requests, r => Assert.Equal("s3cret", r.Header("dapr-api-token")));
    }

    [Fact]
    public async Task Requests_NoApiToken_CarryNoTokenHeader()
    {
        await Client.PublishAsync("t", 1);

        Assert.Null(Assert.Single(Sidecar.Requests).Header("dapr-api-token"));
    }

    [Fact]
    public async Task WaitForSidecarAsync_NotReadyThenReady_Completes()
    {
        Sidecar.On("GET", "/v1.0/healthz/outbound", FakeResponse.Error(500, "ERR_HEALTH_NOT_READY", "dapr is not ready"), FakeResponse.Empty());

        await Client.WaitForSidecarAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(2, Sidecar.RequestsTo("GET", "/v1.0/healthz/outbound").Count);
    }

    [Fact]
    public async Task WaitForSidecarAsync_NeverReady_ThrowsTimeoutNamingEndpoint()
    {
        var clock = TestClock.Create();
        using var host = SidecarHost.Build(Sidecar, services: s => s.AddSingleton<TimeProvider>(clock));
        Sidecar.On("GET", "/v1.0/healthz/outbound", FakeResponse.Error(500, "ERR_HEALTH_NOT_READY", "dapr is not ready"));

        var wait = host.Services.GetRequiredService<DaprSidecarClient>().WaitForSidecarAsync(TimeSpan.FromSeconds(5));
        clock.Advance(TimeSpan.FromSeconds(5));

        var e = await Assert.ThrowsAsync<TimeoutException>(() => wait);
        Assert.Contains(Sidecar.Url.ToString(), e.Message, StringComparison.Ordinal);
        Assert.Contains("/v1.0/healthz/outbound", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_WaitForSidecarOn_WaitsForOutboundHealth()
    {
        using var host = SidecarHost.Build(Sidecar, new Dictionary<string, string?> { ["DaprSidecar:WaitForSidecar"] = "true" });

        await host.StartAsync();
        await host.StopAsync();

        Assert.Single(Sidecar.RequestsTo("GET", "/v1.0/healthz/outbound"));
    }
}
