using Mesh.Runtime.Dapr;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime.Tests.Sidecar;

/// <summary>Bulk subscribe (protocol §2.5) and routing rules (§2.2) on the app side of the Dapr runtime.</summary>
public sealed class BulkSubscribeAndRoutingTests : IAsyncLifetime
{
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    private TestHandler Handler => _app.Services.GetRequiredService<TestHandler>();

    private SubscriptionCounters Counters => _app.Services.GetRequiredService<DeliveryMetrics>().For("test-app", "orders");

    public async Task InitializeAsync()
    {
        _app = await StartAppAsync(services =>
        {
            services.AddSubscription<TestEvent, TestHandler>("test-app", "orders", bulk: new BulkSubscribeOptions { MaxMessagesCount = 10, MaxAwaitDurationMs = 50 });
            services.AddSubscription<TestEvent, DeadLetterHandler>("test-app", Contracts.Topics.DeadLetters);
            services.AddSubscription<TestEvent, DeadLetterHandler>("test-app", "shapes");
            services.AddSubscription<TestEvent, TestHandler>("test-app", "shapes", rule: new RoutingRule("event.type == \"circle\"", Priority: 2));
            services.AddSubscription<TestEvent, TestHandler>("test-app", "shapes", rule: new RoutingRule("event.type == \"square\"", Priority: 1));
        });
        _client = _app.GetTestClient();
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Subscribe_BulkAndRules_EmitsBulkSubscribeAndV2Routes()
    {
        using var response = await _client.GetAsync(new Uri("/dapr/subscribe", UriKind.Relative));

        // Rules by priority, the plain registration as default; v1 "route" only where there are no rules. The default
        // encoder writes '"' as \u0022, which daprd's JSON decoder reads back as a quote.
        const string expected = """
            [{"pubsubName":"pubsub","topic":"dead-letters","route":"events/dead-letters"},
            {"pubsubName":"pubsub","topic":"orders","route":"events/orders","deadLetterTopic":"dead-letters",
            "bulkSubscribe":{"enabled":true,"maxMessagesCount":10,"maxAwaitDurationMs":50}},
            {"pubsubName":"pubsub","topic":"shapes","routes":{"rules":[
            {"match":"event.type == \u0022square\u0022","path":"events/shapes/rule-1"},
            {"match":"event.type == \u0022circle\u0022","path":"events/shapes/rule-2"}],
            "default":"events/shapes"},"deadLetterTopic":"dead-letters"}]
            """;
        Assert.Equal(expected.ReplaceLineEndings(string.Empty), await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Subscribe_RulesWithoutDefault_OmitsDefault()
    {
        await using var app = await StartAppAsync(services =>
            services.AddSubscription<TestEvent, TestHandler>("test-app", "shapes", rule: new RoutingRule("event.type == 'square'", Priority: 0)));
        using var client = app.GetTestClient();

        var json = await client.GetStringAsync(new Uri("/dapr/subscribe", UriKind.Relative));

        Assert.Equal(
            """[{"pubsubName":"pubsub","topic":"shapes","routes":{"rules":[{"match":"event.type == \u0027square\u0027","path":"events/shapes/rule-0"}]},"deadLetterTopic":"dead-letters"}]""",
            json);
    }

    [Fact]
    public async Task RuleRoute_CloudEvent_GoesToTheRulesHandler()
    {
        var (status, body) = await PostAsync("/events/shapes/rule-1", CloudEvent("s1", """{"orderId":"sq"}"""), "application/cloudevents+json");

        Assert.Equal((HttpStatusCode.OK, """{"status":"SUCCESS"}"""), (status, body));
        Assert.Equal(new TestEvent("sq"), Assert.Single(Handler.Received).Event);
    }

    [Fact]
    public async Task Map_TwoRulesOfOnePriority_Throws()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAppAsync(services =>
        {
            services.AddSubscription<TestEvent, TestHandler>("test-app", "shapes", rule: new RoutingRule("event.type == 'a'", Priority: 1));
            services.AddSubscription<TestEvent, DeadLetterHandler>("test-app", "shapes", rule: new RoutingRule("event.type == 'b'", Priority: 1));
        }));

        Assert.Contains("priority 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Map_TopicTwiceWithoutRule_Throws()
    {
        await Assert.ThrowsAsync<InvalidOperationException>(() => StartAppAsync(services =>
        {
            services.AddSubscription<TestEvent, TestHandler>("test-app", "orders");
            services.AddSubscription<TestEvent, DeadLetterHandler>("test-app", "orders");
        }));
    }

    [Fact]
    public void AddSubscription_ZeroBatch_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCollection()
            .AddSubscription<TestEvent, TestHandler>("test-app", "orders", bulk: new BulkSubscribeOptions { MaxMessagesCount = 0 }));
    }

    [Fact]
    public async Task Bulk_MixedOutcomes_OneStatusPerEntryInOrder()
    {
        var (status, body) = await PostBulkAsync(
            Entry("e1", CloudEvent("id-1", """{"orderId":"o1"}""")),
            Entry("e2", CloudEvent("id-2", """{"orderId":"o2","outcome":"retry"}""")),
            Entry("e3", CloudEvent("id-3", """{"orderId":42}""")),
            Entry("e4", CloudEvent("id-4", """{"orderId":"o4","outcome":"throw"}""")),
            Entry("e5", CloudEvent("id-5", """{"orderId":"o5","outcome":"drop"}""")));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(
            """{"statuses":[{"entryId":"e1","status":"SUCCESS"},{"entryId":"e2","status":"RETRY"},{"entryId":"e3","status":"DROP"},""" +
            """{"entryId":"e4","status":"RETRY"},{"entryId":"e5","status":"DROP"}]}""",
            body);
        Assert.Equal(["o1", "o2", "o4", "o5"], Handler.Received.Select(r => r.Event.OrderId));
        Assert.Equal("id-1", Handler.Received.First().Context.EventId);
        Assert.Equal((5L, 1L, 2L, 2L, 1L), (Counters.Received, Counters.Delivered, Counters.Retried, Counters.DeadLettered, Counters.Poison));
    }

    [Fact]
    public async Task Bulk_SameBatchRedelivered_HandlerRunsOncePerEvent()
    {
        string[] entries = [Entry("e1", CloudEvent("id-1", """{"orderId":"o1"}""")), Entry("e2", CloudEvent("id-2", """{"orderId":"o2"}"""))];

        var first = await PostBulkAsync(entries);
        var second = await PostBulkAsync(entries);

        Assert.Equal(first.Body, second.Body);
        Assert.Equal("""{"statuses":[{"entryId":"e1","status":"SUCCESS"},{"entryId":"e2","status":"SUCCESS"}]}""", second.Body);
        Assert.Equal(2, Handler.Received.Count);
        Assert.Equal((4L, 2L, 2L), (Counters.Received, Counters.Delivered, Counters.Duplicates));
    }

    [Fact]
    public async Task Bulk_MalformedCloudEvent_DroppedWithoutCallingHandler()
    {
        var (_, body) = await PostBulkAsync(Entry("e1", """{"id":"x","data":{"orderId":"o1"},"data_base64":"e30="}"""));

        Assert.Equal("""{"statuses":[{"entryId":"e1","status":"DROP"}]}""", body);
        Assert.Empty(Handler.Received);
        Assert.Equal((1L, 1L, 1L), (Counters.Received, Counters.DeadLettered, Counters.Poison));
    }

    [Fact]
    public async Task Bulk_RawPayloadEntry_PassesDecodedBytes()
    {
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"orderId":"raw"}"""));

        var (_, body) = await PostBulkAsync($$"""{"entryId":"e1","event":"{{base64}}","metadata":{},"contentType":"application/octet-stream"}""");

        Assert.Equal("""{"statuses":[{"entryId":"e1","status":"SUCCESS"}]}""", body);
        var (evt, context) = Assert.Single(Handler.Received);
        Assert.Equal((new TestEvent("raw"), "e1", "orders"), (evt, context.EventId, context.Topic));
    }

    [Fact]
    public async Task Bulk_EntryWithoutId_LeftOutOfStatuses()
    {
        var (_, body) = await PostBulkAsync(
            """{"event":{"id":"id-0","data":{"orderId":"o0"}},"contentType":"application/cloudevents+json"}""",
            Entry("e1", CloudEvent("id-1", """{"orderId":"o1"}""")));

        // daprd counts a missing entry as RETRY (§2.5).
        Assert.Equal("""{"statuses":[{"entryId":"e1","status":"SUCCESS"}]}""", body);
        Assert.Equal(["o1"], Handler.Received.Select(r => r.Event.OrderId));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"id":"b1","topic":"orders"}""")]
    public async Task Bulk_NoEntries_Returns400(string json)
    {
        var (status, _) = await PostAsync("/events/orders", json, "application/json");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Empty(Handler.Received);
    }

    [Fact]
    public async Task BulkRoute_SingleCloudEvent_StillDelivered()
    {
        var (_, body) = await PostAsync("/events/orders", CloudEvent("id-1", """{"orderId":"o1"}"""), "application/cloudevents+json");

        Assert.Equal("""{"status":"SUCCESS"}""", body);
        Assert.Single(Handler.Received);
    }

    private static async Task<WebApplication> StartAppAsync(Action<IServiceCollection> subscriptions)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["DaprSidecar:WaitForSidecar"] = "false" });
        builder.AddDaprRuntime();
        subscriptions(builder.Services);

        var app = builder.Build();
        try
        {
            app.MapDaprRuntime();
            await app.StartAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    private Task<(HttpStatusCode Status, string Body)> PostBulkAsync(params string[] entries) => PostAsync(
        "/events/orders",
        $$"""{"id":"b1","type":"com.dapr.event.sent.bulk","topic":"orders","pubsubname":"pubsub","metadata":{},"entries":[{{string.Join(',', entries)}}]}""",
        "application/json");

    private async Task<(HttpStatusCode Status, string Body)> PostAsync(string path, string body, string contentType)
    {
        using var content = new StringContent(body, Encoding.UTF8, contentType);
        using var response = await _client.PostAsync(new Uri(path, UriKind.Relative), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    // A bulk entry as daprd builds it: the CloudEvent object as stored, its own metadata (§2.5).
    private static string Entry(string entryId, string cloudEvent) =>
        $$"""{"entryId":"{{entryId}}","event":{{cloudEvent}},"metadata":{"pubsubName":"pubsub"},"contentType":"application/cloudevents+json"}""";

    private static string CloudEvent(string id, string dataJson) =>
        $$"""{"id":"{{id}}","specversion":"1.0","datacontenttype":"application/json","source":"router","type":"com.dapr.event.sent","topic":"orders","pubsubname":"pubsub","data":{{dataJson}}}""";
}
