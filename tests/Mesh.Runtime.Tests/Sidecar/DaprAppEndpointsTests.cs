using Mesh.Runtime.Dapr;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime.Tests.Sidecar;

public sealed class DaprAppEndpointsTests : IAsyncLifetime
{
    private const string CloudEventsJson = "application/cloudevents+json";

    // The envelope daprd builds for an application/json publish (protocol §1.3 item 3), key order as stored.
    private const string DaprEnvelope = """
        {"id":"5929aaac-a5e2-4ca1-859c-edfe73f11565","specversion":"1.0","datacontenttype":"application/json","source":"router","type":"com.dapr.event.sent","topic":"orders","pubsubname":"pubsub","traceid":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"","time":"2026-01-05T13:00:00+01:00","data":{"orderId":"o1"}}
        """;

    private WebApplication _app = null!;
    private HttpClient _client = null!;

    private TestHandler Handler => _app.Services.GetRequiredService<TestHandler>();

    private SubscriptionCounters Counters => _app.Services.GetRequiredService<DeliveryMetrics>().For("test-app", "orders");

    public async Task InitializeAsync() => (_app, _client) = await StartAppAsync(appApiToken: null);

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _app.DisposeAsync();
    }

    [Fact]
    public async Task Deliver_DaprEnvelope_RepliesSuccessWithEventContext()
    {
        var (status, body) = await PostEventAsync(DaprEnvelope);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"status":"SUCCESS"}""", body);
        var (evt, context) = Assert.Single(Handler.Received);
        Assert.Equal(new TestEvent("o1"), evt);
        Assert.Equal(
            new EventContext("5929aaac-a5e2-4ca1-859c-edfe73f11565", "orders", "router", new DateTimeOffset(2026, 1, 5, 12, 0, 0, TimeSpan.Zero)),
            context);
        Assert.Equal((1, 1), (Counters.Received, Counters.Delivered));
    }

    [Fact]
    public async Task Deliver_HandlerSaysRetry_RepliesRetryAndCountsIt()
    {
        var (status, body) = await PostEventAsync(Envelope("e-retry", """{"orderId":"o1","outcome":"retry"}"""));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"status":"RETRY"}""", body);
        Assert.Equal((1, 0), (Counters.Retried, Counters.Delivered));
    }

    [Fact]
    public async Task Deliver_HandlerThrows_RepliesRetry()
    {
        var (_, body) = await PostEventAsync(Envelope("e-throw", """{"orderId":"o1","outcome":"throw"}"""));

        Assert.Equal("""{"status":"RETRY"}""", body);
    }

    [Fact]
    public async Task Deliver_HandlerSaysDrop_RepliesDropAndCountsDeadLetter()
    {
        var (_, body) = await PostEventAsync(Envelope("e-drop", """{"orderId":"o1","outcome":"drop"}"""));

        Assert.Equal("""{"status":"DROP"}""", body);
        Assert.Equal((1, 0), (Counters.DeadLettered, Counters.Poison));
    }

    [Fact]
    public async Task Deliver_PoisonData_RepliesDropAndCountsPoison()
    {
        var (_, body) = await PostEventAsync(Envelope("e-poison", """{"orderId":42}"""));

        Assert.Equal("""{"status":"DROP"}""", body);
        Assert.Empty(Handler.Received);
        Assert.Equal((1, 1), (Counters.DeadLettered, Counters.Poison));
    }

    [Fact]
    public async Task Deliver_DataAndDataBase64_Returns400WithoutCallingHandler()
    {
        var (status, _) = await PostEventAsync("""{"id":"e1","topic":"orders","data":{"orderId":"o1"},"data_base64":"e30="}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Empty(Handler.Received);
        Assert.Equal(0, Counters.Received);
    }

    [Fact]
    public async Task Deliver_DataKeysInOtherCase_StillBothPresentIs400()
    {
        var (status, _) = await PostEventAsync("""{"ID":"e1","Data":{"orderId":"o1"},"DATA_BASE64":"e30="}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Empty(Handler.Received);
    }

    [Fact]
    public async Task Deliver_DataBase64_PassesDecodedBytes()
    {
        var base64 = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"orderId":"raw"}"""));

        // A raw-payload subscription: daprd synthesizes this envelope (§2.3).
        var (_, body) = await PostEventAsync(
            $$"""{"id":"e-b64","specversion":"1.0","datacontenttype":"application/octet-stream","source":"Dapr","type":"com.dapr.event.sent","topic":"orders","pubsubname":"pubsub","data_base64":"{{base64}}"}""");

        Assert.Equal("""{"status":"SUCCESS"}""", body);
        Assert.Equal(new TestEvent("raw"), Assert.Single(Handler.Received).Event);
    }

    [Fact]
    public async Task Deliver_TextPlainStringData_PassesTheUnquotedText()
    {
        // What daprd makes of a StringContent (text/plain) publish of a JSON body (§1.3).
        var (_, body) = await PostEventAsync(
            """{"id":"e-text","datacontenttype":"text/plain; charset=utf-8","topic":"orders","source":"router","data":"{\"orderId\":\"o2\"}"}""");

        Assert.Equal("""{"status":"SUCCESS"}""", body);
        Assert.Equal(new TestEvent("o2"), Assert.Single(Handler.Received).Event);
    }

    [Fact]
    public async Task Deliver_JsonStringDataWithJsonType_StaysAJsonString()
    {
        // With a JSON content type a string is JSON: the handler gets "\"...\"", which is not a TestEvent.
        var (_, body) = await PostEventAsync("""{"id":"e-str","datacontenttype":"application/json","data":"{\"orderId\":\"o2\"}"}""");

        Assert.Equal("""{"status":"DROP"}""", body);
        Assert.Equal(1, Counters.Poison);
    }

    [Fact]
    public async Task Deliver_Utf16Charset_DecodesBody()
    {
        using var content = new ByteArrayContent(Encoding.Unicode.GetBytes(DaprEnvelope));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/cloudevents+json; charset=utf-16");

        using var response = await _client.PostAsync(new Uri("/events/orders", UriKind.Relative), content);

        Assert.Equal("""{"status":"SUCCESS"}""", await response.Content.ReadAsStringAsync());
        Assert.Equal(new TestEvent("o1"), Assert.Single(Handler.Received).Event);
    }

    [Fact]
    public async Task Deliver_SameIdTwice_RunsHandlerOnceAndRepliesSuccessBoth()
    {
        var first = await PostEventAsync(DaprEnvelope);
        var second = await PostEventAsync(DaprEnvelope);

        Assert.Equal("""{"status":"SUCCESS"}""", first.Body);
        Assert.Equal("""{"status":"SUCCESS"}""", second.Body);
        Assert.Single(Handler.Received);
        Assert.Equal((2, 1, 1), (Counters.Received, Counters.Delivered, Counters.Duplicates));
    }

    [Fact]
    public async Task Deliver_NoId_Returns400()
    {
        var (status, _) = await PostEventAsync("""{"specversion":"1.0","topic":"orders","data":{"orderId":"o1"}}""");

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Empty(Handler.Received);
    }

    [Fact]
    public async Task Deliver_NotJson_Returns400()
    {
        var (status, _) = await PostEventAsync("not json");

        Assert.Equal(HttpStatusCode.BadRequest, status);
    }

    [Fact]
    public async Task Deliver_PlainJson_TreatsBodyAsData()
    {
        var (status, body) = await PostEventAsync("""{"orderId":"plain"}""", "application/json");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("""{"status":"SUCCESS"}""", body);
        var (evt, context) = Assert.Single(Handler.Received);
        Assert.Equal(new TestEvent("plain"), evt);
        Assert.Equal("orders", context.Topic);
    }

    [Fact]
    public async Task Deliver_OtherContentType_Returns415()
    {
        var (status, _) = await PostEventAsync("""{"orderId":"x"}""", "text/plain");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Empty(Handler.Received);
    }

    [Fact]
    public async Task Subscribe_TwoSubscriptions_ListsThemLikeDaprAspNetCore()
    {
        using var response = await _client.GetAsync(new Uri("/dapr/subscribe", UriKind.Relative));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(
            """[{"pubsubName":"pubsub","topic":"dead-letters","route":"events/dead-letters"},""" +
            """{"pubsubName":"pubsub","topic":"orders","route":"events/orders","deadLetterTopic":"dead-letters"}]""",
            await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Config_NoActorsHosted_Returns404()
    {
        // daprd reads any non-200 from /dapr/config as "no actors here" (§2.7).
        using var response = await _client.GetAsync(new Uri("/dapr/config", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Invoke_ValidRequest_Returns200Json()
    {
        using var response = await PostJsonAsync("/echo", """{"text":"hi"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("""{"text":"HI"}""", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("""{"text":42}""")]
    [InlineData("""{"text":"invalid"}""")]
    public async Task Invoke_MalformedOrRefusedRequest_Returns400Problem(string json)
    {
        using var response = await PostJsonAsync("/echo", json);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Invoke_HandlerThrows_Returns500Problem()
    {
        using var response = await PostJsonAsync("/echo", """{"text":"boom"}""");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("boom", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribe_AppTokenMissing_Returns401()
    {
        var (app, client) = await StartAppAsync("app-secret");
        await using (app)
        using (client)
        {
            using var response = await client.GetAsync(new Uri("/dapr/subscribe", UriKind.Relative));

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task Subscribe_AppTokenCorrect_Returns200()
    {
        var (app, client) = await StartAppAsync("app-secret");
        await using (app)
        using (client)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("/dapr/subscribe", UriKind.Relative));
            request.Headers.Add("dapr-api-token", "app-secret");

            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Deliver_AppTokenWrong_Returns401WithoutCallingHandler()
    {
        var (app, client) = await StartAppAsync("app-secret");
        await using (app)
        using (client)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/events/orders", UriKind.Relative))
            {
                Content = new StringContent(DaprEnvelope, Encoding.UTF8, CloudEventsJson),
            };
            request.Headers.Add("dapr-api-token", "app-secre");

            using var response = await client.SendAsync(request);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Empty(app.Services.GetRequiredService<TestHandler>().Received);
        }
    }

    [Fact]
    public async Task Invoke_AppTokenMissing_Returns401()
    {
        var (app, client) = await StartAppAsync("app-secret");
        await using (app)
        using (client)
        {
            using var content = new StringContent("""{"text":"hi"}""", Encoding.UTF8, "application/json");
            using var response = await client.PostAsync(new Uri("/echo", UriKind.Relative), content);

            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/livez")]
    public async Task HealthProbe_AppTokenSetButNotSent_Returns200(string path)
    {
        var (app, client) = await StartAppAsync("app-secret");
        await using (app)
        using (client)
        {
            using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private static async Task<(WebApplication App, HttpClient Client)> StartAppAsync(string? appApiToken)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DaprSidecar:WaitForSidecar"] = "false",
            ["DaprSidecar:AppApiToken"] = appApiToken ?? string.Empty,
        });
        builder.AddDaprRuntime();
        builder.Services.AddSubscription<TestEvent, TestHandler>("test-app", "orders");
        builder.Services.AddSubscription<TestEvent, DeadLetterHandler>("test-app", Contracts.Topics.DeadLetters);
        builder.Services.AddMethod<EchoRequest, EchoResponse, EchoHandler>("test-app", "echo");

        var app = builder.Build();
        app.MapDaprRuntime();
        await app.StartAsync();
        return (app, app.GetTestClient());
    }

    private async Task<(HttpStatusCode Status, string Body)> PostEventAsync(string body, string contentType = CloudEventsJson)
    {
        using var content = new StringContent(body, Encoding.UTF8, contentType);
        using var response = await _client.PostAsync(new Uri("/events/orders", UriKind.Relative), content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        _client.PostAsync(new Uri(path, UriKind.Relative), new StringContent(json, Encoding.UTF8, "application/json"));

    private static string Envelope(string id, string dataJson) =>
        $$"""{"id":"{{id}}","specversion":"1.0","datacontenttype":"application/json","source":"router","type":"com.dapr.event.sent","topic":"orders","pubsubname":"pubsub","data":{{dataJson}}}""";
}

public sealed record TestEvent(string OrderId, string? Outcome = null);

public sealed class TestHandler : IEventHandler<TestEvent>
{
    public ConcurrentQueue<(TestEvent Event, EventContext Context)> Received { get; } = new();

    public Task<DeliveryOutcome> HandleAsync(TestEvent data, EventContext context, CancellationToken cancellationToken)
    {
        Received.Enqueue((data, context));
        return data.Outcome switch
        {
            "retry" => Task.FromResult(DeliveryOutcome.Retry),
            "drop" => Task.FromResult(DeliveryOutcome.Drop),
            "throw" => throw new InvalidOperationException("handler failed"),
            _ => Task.FromResult(DeliveryOutcome.Success),
        };
    }
}

public sealed class DeadLetterHandler : IEventHandler<TestEvent>
{
    public Task<DeliveryOutcome> HandleAsync(TestEvent data, EventContext context, CancellationToken cancellationToken) => Task.FromResult(DeliveryOutcome.Success);
}

public sealed record EchoRequest(string Text);

public sealed record EchoResponse(string Text);

public sealed class EchoHandler : IMethodHandler<EchoRequest, EchoResponse>
{
    public Task<EchoResponse> HandleAsync(EchoRequest request, CancellationToken cancellationToken) => request.Text switch
    {
        "invalid" => throw new InvalidInvocationException("text may not be 'invalid'"),
        "boom" => throw new InvalidOperationException("boom"),
        _ => Task.FromResult(new EchoResponse(request.Text.ToUpperInvariant())),
    };
}
