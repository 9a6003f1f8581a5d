using Mesh.Contracts;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// What daprd calls on the app (protocol §2): <c>GET /dapr/subscribe</c>, one <c>POST /events/{topic}</c> per
/// <see cref="SubscriptionDescriptor"/> (single CloudEvents, or batches when it opted into bulk), one <c>POST /{method}</c>
/// per <see cref="MethodDescriptor"/>. When
/// <see cref="DaprSidecarOptions.AppApiToken"/> is set each of them requires it in <c>dapr-api-token</c>.
/// </summary>
public sealed class DaprAppEndpoints(
    IEnumerable<SubscriptionDescriptor> subscriptions,
    IEnumerable<MethodDescriptor> methods,
    EventDelivery delivery,
    DeliveryMetrics metrics,
    IOptions<MeshRuntimeOptions> runtime,
    IOptions<DaprSidecarOptions> sidecar,
    ILogger<DaprAppEndpoints> logger) : IRuntimeEndpoints
{
    private const string CloudEventsMediaType = "application/cloudevents+json";
    private const string JsonMediaType = "application/json";

    private readonly SubscriptionDescriptor[] _subscriptions = [.. subscriptions];
    private readonly MethodDescriptor[] _methods = [.. methods];
    private readonly EventDelivery _delivery = delivery;
    private readonly DeliveryMetrics _metrics = metrics;
    private readonly string _pubSubName = runtime.Value.PubSubName;
    private readonly string? _appApiToken = sidecar.Value.AppApiToken;
    private readonly ILogger<DaprAppEndpoints> _logger = logger;

    public void Map(IEndpointRouteBuilder endpoints)
    {
        var subscribe = new SubscribeDocument(_subscriptions, _pubSubName);
        var bulk = new BulkEventDelivery(_delivery, _metrics, _logger);

        // Health probes are mapped outside this group: daprd sends no token on them (§1.1, §2.6).
        var callbacks = endpoints.MapGroup(string.Empty);
        if (!string.IsNullOrEmpty(_appApiToken))
        {
            callbacks.AddEndpointFilter(new AppTokenFilter(_appApiToken));
        }

        callbacks.MapGet("dapr/subscribe", () => TypedResults.Json(subscribe.Entries, MeshJson.Options));
        foreach (var subscription in _subscriptions)
        {
            // With bulkSubscribe on, daprd posts batches as application/json (§2.5); a CloudEvent is still one event.
            var isBulk = subscribe.IsBulk(subscription.Topic);
            callbacks.MapPost(subscription.Route, (HttpRequest request, CancellationToken cancellationToken) => isBulk && BulkEventDelivery.IsBulk(request)
                ? bulk.DeliverAsync(request, subscription, cancellationToken)
                : DeliverAsync(request, subscription, cancellationToken));
        }

        foreach (var method in _methods)
        {
            callbacks.MapPost(method.Method, (HttpContext http, CancellationToken cancellationToken) => InvokeAsync(http, method, cancellationToken));
        }
    }

    private async Task<IResult> DeliverAsync(HttpRequest request, SubscriptionDescriptor subscription, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType))
        {
            return TypedResults.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        }

        var body = await ReadBodyAsync(request, cancellationToken);
        ReadOnlyMemory<byte> data;
        EventContext context;
        if (contentType.MediaType.Equals(CloudEventsMediaType, StringComparison.OrdinalIgnoreCase))
        {
            if (contentType.Charset.HasValue && contentType.Encoding is null)
            {
                return TypedResults.StatusCode(StatusCodes.Status415UnsupportedMediaType);
            }

            if (!CloudEventReader.TryRead(body, contentType.Encoding, out var cloudEvent, out var error))
            {
                // daprd retries a 400 like any non-2xx, then dead-letters it; the handler never sees a malformed event.
                return TypedResults.Problem(error, statusCode: StatusCodes.Status400BadRequest);
            }

            data = cloudEvent.Data;
            context = new EventContext(cloudEvent.Id, cloudEvent.Topic ?? subscription.Topic, cloudEvent.Source ?? string.Empty, cloudEvent.Time);
        }
        else if (contentType.MediaType.Equals(JsonMediaType, StringComparison.OrdinalIgnoreCase))
        {
            // Not a CloudEvent: the body is the data. Without an id there is nothing to deduplicate on.
            data = body;
            context = new EventContext(Guid.NewGuid().ToString(), subscription.Topic, string.Empty, Time: null);
        }
        else
        {
            return TypedResults.StatusCode(StatusCodes.Status415UnsupportedMediaType);
        }

        var result = await _delivery.DeliverAsync(subscription, data, context, cancellationToken);
        var counters = _metrics.For(subscription.AppId, subscription.Topic);
        switch (result.Outcome)
        {
            case DeliveryOutcome.Retry:
                counters.CountRetried();
                break;
            case DeliveryOutcome.Drop:
                // daprd acks a DROP and republishes it to the subscription's dead-letter topic (§2.4).
                counters.CountDeadLettered(result.IsPoison);
                break;
        }

        return TypedResults.Json(new DeliveryReply(StatusOf(result.Outcome)), MeshJson.Options);
    }

    private async Task<IResult> InvokeAsync(HttpContext http, MethodDescriptor method, CancellationToken cancellationToken)
    {
        var body = await ReadBodyAsync(http.Request, cancellationToken);
        try
        {
            var response = await method.Dispatch(http.RequestServices, body, cancellationToken);
            return TypedResults.Bytes(response, JsonMediaType);
        }
        catch (Exception e) when (e is MalformedRequestException or InvalidInvocationException)
        {
            return TypedResults.Problem(e.Message, statusCode: StatusCodes.Status400BadRequest);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The caller gets this status through daprd unchanged (§1.5); the details stay in this service's log.
            _logger.LogError(e, "Method {Method} of {AppId} failed", method.Method, method.AppId);
            return TypedResults.Problem(title: $"Method '{method.Method}' failed.", statusCode: StatusCodes.Status500InternalServerError);
        }
    }

    // Status strings are case-sensitive: daprd treats "success" as a retriable error (§2.4).
    private static string StatusOf(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Success => "SUCCESS",
        DeliveryOutcome.Retry => "RETRY",
        _ => "DROP",
    };

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        return buffer.ToArray();
    }

    private sealed record DeliveryReply(string Status);

    /// <summary>Rejects callbacks whose <c>dapr-api-token</c> is not APP_API_TOKEN (§1.1), comparing in constant time.</summary>
    private sealed class AppTokenFilter(string token) : IEndpointFilter
    {
        private readonly byte[] _expected = Encoding.UTF8.GetBytes(token);

        public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
        {
            var presented = Encoding.UTF8.GetBytes(context.HttpContext.Request.Headers["dapr-api-token"].ToString());
            return CryptographicOperations.FixedTimeEquals(presented, _expected)
                ? next(context)
                : ValueTask.FromResult<object?>(TypedResults.Unauthorized());
        }
    }
}
