using Mesh.Contracts;
using System.Runtime.InteropServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Net.Http.Headers;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// Serves a bulk delivery (protocol §2.5): <c>POST {route}</c> with <c>Content-Type: application/json</c> and
/// <c>{"entries":[{"entryId","event","contentType","metadata"}],…}</c>. Each entry goes through <see cref="EventDelivery"/>
/// on its own, in order (idempotent on the CloudEvent id), and the reply is
/// <c>{"statuses":[{"entryId","status":"SUCCESS"|"RETRY"|"DROP"}]}</c> with one status per entry.
/// </summary>
internal sealed class BulkEventDelivery(EventDelivery delivery, DeliveryMetrics metrics, ILogger logger)
{
    private const string CloudEventsMediaType = "application/cloudevents+json";
    private const string OctetStreamMediaType = "application/octet-stream";
    private const string JsonMediaType = "application/json";

    /// <summary>A bulk request is the only <c>application/json</c> delivery on a bulk route; single events are CloudEvents.</summary>
    public static bool IsBulk(HttpRequest request) =>
        MediaTypeHeaderValue.TryParse(request.ContentType, out var type) && type.MediaType.Equals(JsonMediaType, StringComparison.OrdinalIgnoreCase);

    public async Task<IResult> DeliverAsync(HttpRequest request, SubscriptionDescriptor subscription, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken);
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(buffer.ToArray());
        }
        catch (JsonException e)
        {
            // daprd retries every entry of a batch answered with a non-2xx other than 404 (§2.5).
            return TypedResults.Problem($"The bulk body is not JSON: {e.Message}", statusCode: StatusCodes.Status400BadRequest);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || Property(doc.RootElement, "entries") is not { ValueKind: JsonValueKind.Array } entries)
            {
                return TypedResults.Problem("The bulk body has no 'entries' array.", statusCode: StatusCodes.Status400BadRequest);
            }

            var topic = Property(doc.RootElement, "topic") is { ValueKind: JsonValueKind.String } t ? t.GetString()! : subscription.Topic;
            var statuses = new List<EntryStatus>();
            foreach (var entry in entries.EnumerateArray())
            {
                // An entry without an id cannot be answered; daprd counts an entry left out as RETRY (§2.5).
                if (entry.ValueKind != JsonValueKind.Object || Property(entry, "entryId") is not { ValueKind: JsonValueKind.String } idElement
                    || idElement.GetString() is not { Length: > 0 } entryId)
                {
                    continue;
                }

                var outcome = await DeliverEntryAsync(subscription, topic, entryId, entry, cancellationToken);
                statuses.Add(new EntryStatus(entryId, DaprStatus(outcome)));
            }

            return TypedResults.Json(new BulkReply(statuses), MeshJson.Options);
        }
    }

    private async Task<DeliveryOutcome> DeliverEntryAsync(SubscriptionDescriptor subscription, string topic, string entryId, JsonElement entry, CancellationToken cancellationToken)
    {
        var counters = metrics.For(subscription.AppId, subscription.Topic);
        if (!TryRead(entry, entryId, topic, out var data, out var context, out var error))
        {
            // The single route answers 400 here, which daprd retries and then dead-letters; a batch can say so per
            // entry, and an entry that cannot be read now never will be.
            logger.LogWarning("Unreadable entry {EntryId} of a bulk delivery on {Topic} for {AppId}: {Error}", entryId, subscription.Topic, subscription.AppId, error);
            counters.CountReceived();
            counters.CountDeadLettered(poison: true);
            return DeliveryOutcome.Drop;
        }

        var result = await delivery.DeliverAsync(subscription, data, context, cancellationToken);
        switch (result.Outcome)
        {
            case DeliveryOutcome.Retry:
                counters.CountRetried();
                break;
            case DeliveryOutcome.Drop:
                counters.CountDeadLettered(result.IsPoison);
                break;
        }

        return result.Outcome;
    }

    private static bool TryRead(JsonElement entry, string entryId, string topic, out ReadOnlyMemory<byte> data, out EventContext context, out string? error)
    {
        data = default;
        context = null!;
        var contentType = Property(entry, "contentType") is { ValueKind: JsonValueKind.String } c ? c.GetString() : null;
        if (Property(entry, "event") is not { } evt)
        {
            error = "The entry has no 'event'.";
            return false;
        }

        var mediaType = contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var parsed) ? parsed.MediaType.Value : null;
        if (mediaType is null || mediaType.Equals(CloudEventsMediaType, StringComparison.OrdinalIgnoreCase))
        {
            // The usual case: the event is the CloudEvent object as stored in the broker (§2.5).
            if (!CloudEventReader.TryRead(JsonMarshal.GetRawUtf8Value(evt), charset: null, out var cloudEvent, out error))
            {
                return false;
            }

            data = cloudEvent.Data;
            context = new EventContext(cloudEvent.Id, cloudEvent.Topic ?? topic, cloudEvent.Source ?? string.Empty, cloudEvent.Time);
            return true;
        }

        // Raw payloads (base64) and plain JSON carry no CloudEvent id: the entry id stands in for it, which dedupes a
        // batch sent twice but not a message redelivered in a new batch.
        if (mediaType.Equals(OctetStreamMediaType, StringComparison.OrdinalIgnoreCase))
        {
            if (evt.ValueKind != JsonValueKind.String || !evt.TryGetBytesFromBase64(out var bytes))
            {
                error = "A raw (application/octet-stream) entry's 'event' is not a base64 string.";
                return false;
            }

            data = bytes;
        }
        else if (mediaType.Equals(JsonMediaType, StringComparison.OrdinalIgnoreCase))
        {
            data = JsonMarshal.GetRawUtf8Value(evt).ToArray();
        }
        else
        {
            error = $"Unsupported entry content type '{contentType}'.";
            return false;
        }

        context = new EventContext(entryId, topic, string.Empty, Time: null);
        error = null;
        return true;
    }

    // Go's encoding/json matches keys case-insensitively (§0); daprd writes them camelCase.
    private static JsonElement? Property(JsonElement obj, string name)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (p.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
            {
                return p.Value;
            }
        }

        return null;
    }

    // Case-sensitive, as in single delivery; in bulk an empty or missing status would mean RETRY, not SUCCESS (§2.5).
    private static string DaprStatus(DeliveryOutcome outcome) => outcome switch
    {
        DeliveryOutcome.Success => "SUCCESS",
        DeliveryOutcome.Retry => "RETRY",
        _ => "DROP",
    };

    private sealed record BulkReply(IReadOnlyList<EntryStatus> Statuses);

    private sealed record EntryStatus(string EntryId, string Status);
}
