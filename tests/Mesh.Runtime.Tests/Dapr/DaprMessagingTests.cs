namespace Mesh.Runtime.Tests.Dapr;

/// <summary>Publish through DaprClient, and subscriptions through UseCloudEvents, MapSubscribeHandler and WithTopic.</summary>
public sealed class DaprMessagingTests : IAsyncLifetime
{
    private DaprTestApp _app = null!;

    private SubscriptionCounters Counters => _app.Get<DeliveryMetrics>().For(DaprTestApp.AppId, DaprTestApp.Topic);

    public async Task InitializeAsync() => _app = await DaprTestApp.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Publish_SendsPubSubTopicAndMeshJson()
    {
        await _app.Get<IEventPublisher>().PublishAsync("echoes", new EchoRequest("hi", TallyKind.BigStep));

        var publish = Assert.Single(_app.Sidecar.CallsTo("PublishEvent"));
        Assert.Equal(("pubsub", "echoes", "application/json"), (publish.Target, publish.Key, publish.ContentType));
        Assert.Equal("""{"text":"hi","kind":"bigStep"}""", publish.BodyText);
        Assert.Equal(1, _app.Get<DeliveryMetrics>().Published);
    }

    [Fact]
    public void Subscribe_ListsRoutesDeadLettersAndBulk()
    {
        var subscriptions = _app.Sidecar.SubscriptionsOf(DaprTestApp.AppId).ToJsonString();

        const string expected = """
            [{"topic":"bulk-pings","pubsubName":"pubsub","route":"events/bulk-pings","deadLetterTopic":"dead-letters",
            "bulkSubscribe":{"enabled":true,"maxMessagesCount":50,"maxAwaitDurationMs":200}},
            {"topic":"pings","pubsubName":"pubsub","route":"events/pings","deadLetterTopic":"dead-letters"}]
            """;
        Assert.Equal(expected.ReplaceLineEndings(string.Empty), subscriptions);
    }

    [Fact]
    public async Task Deliver_SameCloudEventIdTwice_HandledOnceAndBothAcked()
    {
        var first = await _app.Sidecar.DeliverAsync(DaprTestApp.AppId, DaprTestApp.Topic, "ce-1", """{"n":7}""");
        var again = await _app.Sidecar.DeliverAsync(DaprTestApp.AppId, DaprTestApp.Topic, "ce-1", """{"n":7}""");

        Assert.Equal((200, """{"status":"SUCCESS"}"""), first);
        Assert.Equal((200, """{"status":"SUCCESS"}"""), again);
        Assert.Equal([(7, "ce-1")], _app.Handler.Calls);
        Assert.Equal((2L, 1L, 1L), (Counters.Received, Counters.Delivered, Counters.Duplicates));
    }

    [Fact]
    public async Task Deliver_PoisonData_Drop()
    {
        var reply = await _app.Sidecar.DeliverAsync(DaprTestApp.AppId, DaprTestApp.Topic, "ce-2", """{"n":"not a number"}""");

        Assert.Equal((200, """{"status":"DROP"}"""), reply);
        Assert.Empty(_app.Handler.Calls);
        Assert.Equal((1L, 1L), (Counters.DeadLettered, Counters.Poison));
    }

    [Fact]
    public async Task Deliver_HandlerAsksRetry_RetryThenTheRedeliveryRuns()
    {
        _app.Handler.Script(DeliveryOutcome.Retry);

        var first = await _app.Sidecar.DeliverAsync(DaprTestApp.AppId, DaprTestApp.Topic, "ce-3", """{"n":1}""");
        var redelivered = await _app.Sidecar.DeliverAsync(DaprTestApp.AppId, DaprTestApp.Topic, "ce-3", """{"n":1}""");

        Assert.Equal(("""{"status":"RETRY"}""", """{"status":"SUCCESS"}"""), (first.Body, redelivered.Body));
        Assert.Equal([(1, "ce-3"), (1, "ce-3")], _app.Handler.Calls);
        Assert.Equal(1, Counters.Retried);
    }

    [Fact]
    public async Task DeliverBulk_StatusPerEntry_PoisonDroppedDuplicateAcked()
    {
        var (status, body) = await _app.Sidecar.DeliverBulkAsync(DaprTestApp.AppId, DaprTestApp.BulkTopic,
            ("e1", "ce-1", """{"n":1}"""),
            ("e2", "ce-2", """{"n":"x"}"""),
            ("e3", "ce-1", """{"n":1}"""));

        Assert.Equal(200, status);
        Assert.Equal(
            """{"statuses":[{"entryId":"e1","status":"SUCCESS"},{"entryId":"e2","status":"DROP"},{"entryId":"e3","status":"SUCCESS"}]}""",
            body);
        Assert.Equal([(1, "ce-1")], _app.Handler.Calls);
        var counters = _app.Get<DeliveryMetrics>().For(DaprTestApp.AppId, DaprTestApp.BulkTopic);
        Assert.Equal((3L, 1L, 1L, 1L), (counters.Received, counters.Delivered, counters.Poison, counters.Duplicates));
    }
}
