using Mesh.Dapr.Sidecar;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Dapr.Tests.Sidecar;

public sealed class DaprSidecarClientBulkPublishTests : SidecarClientTests
{
    private const string BulkPath = "/v1.0-alpha1/publish/bulk/pubsub/user-events";

    private IEventPublisher Publisher => Host.Services.GetRequiredService<IEventPublisher>();

    private long Published => Host.Services.GetRequiredService<DeliveryMetrics>().Published;

    [Fact]
    public async Task PublishManyAsync_Events_PostsOneBulkRequestWithEntriesAsJson()
    {
        await Publisher.PublishManyAsync("user-events", [new Order("o1", 1), new Order("o2", 2)]);

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal(("POST", BulkPath), (request.Method, request.PathAndQuery));
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal(
            """[{"entryId":"0","event":{"id":"o1","quantity":1},"contentType":"application/json"},""" +
            """{"entryId":"1","event":{"id":"o2","quantity":2},"contentType":"application/json"}]""",
            request.BodyText);
        Assert.Equal(2, Published);
    }

    [Fact]
    public async Task PublishManyAsync_Empty_SendsNothing()
    {
        await Publisher.PublishManyAsync("user-events", Array.Empty<Order>());

        Assert.Empty(Sidecar.Requests);
    }

    [Fact]
    public async Task PublishManyAsync_TopicWithSlash_KeepsItAsPathSeparator()
    {
        await Publisher.PublishManyAsync("a/b c", [1]);

        Assert.Equal("/v1.0-alpha1/publish/bulk/pubsub/a/b%20c", Assert.Single(Sidecar.Requests).PathAndQuery);
    }

    [Fact]
    public async Task PublishManyAsync_PartialFailure_ThrowsNamingOnlyTheFailedEntries()
    {
        Sidecar.On("POST", BulkPath, FakeResponse.Json(
            """{"failedEntries":[{"entryId":"2","error":"broker full"},{"entryId":"0","error":"broker full"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}""",
            status: 500));
        Order[] orders = [new("o1", 1), new("o2", 2), new("o3", 3)];

        var e = await Assert.ThrowsAsync<BulkPublishException>(() => Publisher.PublishManyAsync("user-events", orders));

        Assert.Equal([new BulkPublishFailure(0, "broker full"), new BulkPublishFailure(2, "broker full")], e.Failures);
        Assert.Equal([orders[0], orders[2]], e.FailedItems(orders));
        Assert.Equal(("user-events", 3), (e.Topic, e.Count));
        Assert.Equal(1, Published);
    }

    [Fact]
    public async Task PublishManyAsync_RetryingFailedItems_SendsOnlyThem()
    {
        Sidecar.On("POST", BulkPath,
            FakeResponse.Json("""{"failedEntries":[{"entryId":"1","error":"timeout"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"}""", status: 500),
            FakeResponse.Empty());
        Order[] orders = [new("o1", 1), new("o2", 2)];
        var e = await Assert.ThrowsAsync<BulkPublishException>(() => Publisher.PublishManyAsync("user-events", orders));

        await Publisher.PublishManyAsync("user-events", e.FailedItems(orders));

        Assert.Equal("""[{"entryId":"0","event":{"id":"o2","quantity":2},"contentType":"application/json"}]""", Sidecar.Requests[^1].BodyText);
        Assert.Equal(2, Published);
    }

    [Fact]
    public async Task PublishManyAsync_UnknownPubSub404_ThrowsSidecarExceptionForTheWholeRequest()
    {
        Sidecar.On("POST", BulkPath, FakeResponse.Error(404, "ERR_PUBSUB_NOT_FOUND", "pubsub pubsub is not found"));

        var e = await Assert.ThrowsAsync<DaprSidecarException>(() => Publisher.PublishManyAsync("user-events", [1, 2]));

        Assert.Equal((404, "ERR_PUBSUB_NOT_FOUND"), (e.StatusCode, e.ErrorCode));
        Assert.Equal(0, Published);
    }

    [Fact]
    public async Task PublishManyAsync_500WithoutFailedEntries_ThrowsSidecarException()
    {
        Sidecar.On("POST", BulkPath, FakeResponse.Error(500, "ERR_PUBSUB_PUBLISH_MESSAGE", "broker down"));

        var e = await Assert.ThrowsAsync<DaprSidecarException>(() => Publisher.PublishManyAsync("user-events", [1]));

        Assert.Equal((500, "ERR_PUBSUB_PUBLISH_MESSAGE"), (e.StatusCode, e.ErrorCode));
    }

    [Fact]
    public async Task PublishManyAsync_SidecarUnreachable_ThrowsSidecarException()
    {
        using var host = SidecarHost.Build("http://127.0.0.1:1");

        await Assert.ThrowsAsync<DaprSidecarException>(() => host.Services.GetRequiredService<IEventPublisher>().PublishManyAsync("t", [1]));
    }
}
