using Mesh.Dapr.Sidecar;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Dapr.Tests.Sidecar;

/// <summary>The app's own CloudEvent, raw payloads, and invocation by <c>dapr-app-id</c> header (§1.3, §1.5).</summary>
public sealed class DaprSidecarClientPublishingTests : SidecarClientTests
{
    [Fact]
    public async Task PublishCloudEventAsync_OwnEvent_SentAsCloudEventsJsonWithItsId()
    {
        await Client.PublishCloudEventAsync("impressions", new OutgoingCloudEvent<Order>("evt-7", "router", "mesh.impressions.served", new Order("o1", 2)));

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("/v1.0/publish/pubsub/impressions", request.PathAndQuery);
        Assert.Equal("application/cloudevents+json", request.ContentType);
        Assert.Equal(
            """{"specversion":"1.0","id":"evt-7","source":"router","type":"mesh.impressions.served","datacontenttype":"application/json","data":{"id":"o1","quantity":2}}""",
            request.BodyText);
        Assert.Equal(1, Host.Services.GetRequiredService<DeliveryMetrics>().Published);
    }

    [Fact]
    public async Task PublishRawAsync_Bytes_SentUnwrappedWithRawPayloadMetadata()
    {
        await Client.PublishRawAsync("exports", [1, 2, 3]);

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("/v1.0/publish/pubsub/exports?metadata.rawPayload=true", request.PathAndQuery);
        Assert.Equal("application/octet-stream", request.ContentType);
        Assert.Equal([1, 2, 3], request.Body);
    }

    [Fact]
    public async Task PublishRawAsync_BadMetadata400_ThrowsWithErrorCode()
    {
        Sidecar.On("POST", "/v1.0/publish/pubsub/exports", FakeResponse.Error(400, "ERR_PUBSUB_REQUEST_METADATA", "rawPayload is not a bool"));

        var e = await Assert.ThrowsAsync<DaprSidecarException>(() => Client.PublishRawAsync("exports", [1]));

        Assert.Equal(("ERR_PUBSUB_REQUEST_METADATA", 400), (e.ErrorCode, e.StatusCode));
    }

    [Fact]
    public async Task InvokeAsync_ByAppIdHeader_PostsMethodPathWithHeader()
    {
        using var host = SidecarHost.Build(Sidecar, new Dictionary<string, string?> { ["DaprSidecar:InvokeByAppIdHeader"] = "true" });
        Sidecar.On("POST", "/score", FakeResponse.Json("7"));

        var answer = await host.Services.GetRequiredService<IServiceInvoker>().InvokeAsync<Order, int>("ranker", "score", new Order("o1", 1));

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal(7, answer);
        Assert.Equal("/score", request.PathAndQuery);
        Assert.Equal("ranker", request.Header("dapr-app-id"));
        Assert.Equal("application/json", request.ContentType);
    }
}
