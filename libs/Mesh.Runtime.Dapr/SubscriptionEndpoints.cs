using System.Globalization;
using System.Text.Json;
using Dapr;
using Dapr.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// One <c>POST events/{topic}</c> per <see cref="SubscriptionDescriptor"/>, declared to <c>MapSubscribeHandler</c> with
/// <c>WithTopic</c> (and <c>WithBulkSubscribe</c> where asked). <c>UseCloudEvents</c> has unwrapped a single event by
/// then: the body is its data and the CloudEvent attributes are <c>Cloudevent.*</c> headers. A bulk request is not a
/// CloudEvent and arrives whole.
/// </summary>
internal static class SubscriptionEndpoints
{
    private const string IdHeader = "Cloudevent.id";

    public static IEnumerable<IEndpointConventionBuilder> MapSubscriptions(this IEndpointRouteBuilder endpoints, IEnumerable<SubscriptionDescriptor> subscriptions, string pubSubName)
    {
        foreach (var subscription in subscriptions)
        {
            var bulk = subscription.BulkSubscribe;
            var route = endpoints.MapPost(subscription.Route, (HttpContext http, EventDelivery delivery, DeliveryMetrics metrics) =>
                    bulk is not null && !http.Request.Headers.ContainsKey(IdHeader)
                        ? DeliverBulkAsync(http, subscription, delivery, metrics)
                        : DeliverAsync(http, subscription, delivery, metrics))
                .WithTopic(new TopicOptions { PubsubName = pubSubName, Name = subscription.Topic, DeadLetterTopic = subscription.DeadLetterTopic });
            if (bulk is not null)
            {
                route.WithBulkSubscribe(new BulkSubscribeTopicOptions
                {
                    TopicName = subscription.Topic,
                    MaxMessagesCount = bulk.MaxMessagesCount,
                    MaxAwaitDurationMs = bulk.MaxAwaitDurationMs,
                });
            }

            yield return route;
        }
    }

    private static async Task<IResult> DeliverAsync(HttpContext http, SubscriptionDescriptor subscription, EventDelivery delivery, DeliveryMetrics metrics)
    {
        var headers = http.Request.Headers;
        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body, http.RequestAborted);

        // Without a CloudEvent id (a plain JSON post) there is nothing to deduplicate on.
        var context = new EventContext(
            headers[IdHeader].FirstOrDefault() ?? Guid.NewGuid().ToString(),
            headers["Cloudevent.topic"].FirstOrDefault() ?? subscription.Topic,
            headers["Cloudevent.source"].FirstOrDefault() ?? string.Empty,
            DateTimeOffset.TryParse(headers["Cloudevent.time"].FirstOrDefault(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var time) ? time : null,
            headers["Cloudevent.traceparent"].FirstOrDefault());
        var outcome = await DeliverAsync(subscription, body.ToArray(), context, delivery, metrics, http.RequestAborted);
        return TypedResults.Ok(new DeliveryReply(outcome.ToString()));
    }

    private static async Task<IResult> DeliverBulkAsync(HttpContext http, SubscriptionDescriptor subscription, EventDelivery delivery, DeliveryMetrics metrics)
    {
        var message = await http.Request.ReadFromJsonAsync<BulkSubscribeMessage<JsonElement>>(http.RequestAborted);
        var statuses = new List<BulkSubscribeAppResponseEntry>();
        foreach (var entry in message?.Entries ?? [])
        {
            BulkSubscribeAppResponseStatus outcome;
            if (TryReadCloudEvent(entry.Event, subscription.Topic, out var data, out var context))
            {
                outcome = await DeliverAsync(subscription, data, context, delivery, metrics, http.RequestAborted);
            }
            else
            {
                // Not a CloudEvent with data: it never will be, so it goes to the dead-letter topic at once.
                var counters = metrics.For(subscription.AppId, subscription.Topic);
                counters.CountReceived();
                counters.CountDeadLettered(poison: true);
                outcome = BulkSubscribeAppResponseStatus.DROP;
            }

            statuses.Add(new BulkSubscribeAppResponseEntry(entry.EntryId, outcome));
        }

        return TypedResults.Ok(new BulkSubscribeAppResponse(statuses));
    }

    private static async Task<BulkSubscribeAppResponseStatus> DeliverAsync(
        SubscriptionDescriptor subscription, ReadOnlyMemory<byte> data, EventContext context, EventDelivery delivery, DeliveryMetrics metrics, CancellationToken cancellationToken)
    {
        var result = await delivery.DeliverAsync(subscription, data, context, cancellationToken);
        var counters = metrics.For(subscription.AppId, subscription.Topic);
        switch (result.Outcome)
        {
            case DeliveryOutcome.Retry:
                counters.CountRetried();
                return BulkSubscribeAppResponseStatus.RETRY;
            case DeliveryOutcome.Drop:
                // daprd acks a DROP and republishes the event to the subscription's dead-letter topic.
                counters.CountDeadLettered(result.IsPoison);
                return BulkSubscribeAppResponseStatus.DROP;
            default:
                return BulkSubscribeAppResponseStatus.SUCCESS;
        }
    }

    // A bulk entry's event is the CloudEvent object as stored in the broker; its data is JSON ("data") or bytes ("data_base64").
    private static bool TryReadCloudEvent(JsonElement cloudEvent, string topic, out ReadOnlyMemory<byte> data, out EventContext context)
    {
        data = default;
        context = null!;
        if (cloudEvent.ValueKind != JsonValueKind.Object || !cloudEvent.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        if (cloudEvent.TryGetProperty("data", out var json))
        {
            data = JsonSerializer.SerializeToUtf8Bytes(json);
        }
        else if (cloudEvent.TryGetProperty("data_base64", out var base64) && base64.ValueKind == JsonValueKind.String)
        {
            data = base64.GetBytesFromBase64();
        }
        else
        {
            return false;
        }

        context = new EventContext(
            id.GetString()!,
            String(cloudEvent, "topic") ?? topic,
            String(cloudEvent, "source") ?? string.Empty,
            cloudEvent.TryGetProperty("time", out var time) && time.TryGetDateTimeOffset(out var at) ? at : null,
            String(cloudEvent, "traceparent"));
        return true;
    }

    private static string? String(JsonElement json, string name) =>
        json.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    // Status strings are case-sensitive: daprd takes "success" as a retriable error.
    private sealed record DeliveryReply(string Status);
}
