using System.Globalization;
using System.Net;
using System.Text.Json;

namespace Mesh.Dapr.Sidecar;

public sealed partial class DaprSidecarClient
{
    private const string BulkPublishPath = "v1.0-alpha1/publish/bulk";

    /// <summary>
    /// Publishes <paramref name="events"/> in one <c>POST /v1.0-alpha1/publish/bulk/{pubsub}/{topic}</c> (protocol §1.4).
    /// Each event becomes its own CloudEvent. daprd answers 204 when all were published and 500 with
    /// <c>failedEntries</c> when some were not: that is a <see cref="BulkPublishException"/> naming them. A request
    /// refused as a whole (unknown pub/sub, unreachable sidecar) is a <see cref="DaprSidecarException"/>.
    /// </summary>
    public async Task PublishManyAsync<T>(string topic, IReadOnlyList<T> events, CancellationToken cancellationToken = default)
    {
        if (events.Count == 0)
        {
            return;
        }

        var body = WriteJson(w =>
        {
            w.WriteStartArray();
            for (var i = 0; i < events.Count; i++)
            {
                w.WriteStartObject();
                // entryIds must be unique and non-empty, or daprd refuses the whole request (400 ERR_PUBSUB_EVENTS_SER);
                // the index also maps failedEntries back to the caller's list.
                w.WriteString("entryId", EntryId(i));
                w.WritePropertyName("event");
                w.WriteRawValue(MeshJson.Serialize(events[i]), skipInputValidation: true);
                // Per entry, as for a single publish: only exactly application/json makes the object the CE's data (§1.3, §1.4).
                w.WriteString("contentType", JsonMediaType);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        });
        using var request = JsonRequest(HttpMethod.Post, $"{BulkPublishPath}/{Escape(_pubSubName)}/{EscapePath(topic)}", body);
        using var response = await SendAsync(
            request, e => new DaprSidecarException($"Bulk publishing to '{topic}' failed: the Dapr sidecar at {Endpoint} is unreachable.", inner: e), cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            CountPublished(events.Count);
            return;
        }

        var responseBody = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        var failures = response.StatusCode == HttpStatusCode.InternalServerError ? ReadFailedEntries(responseBody, events.Count) : [];
        if (failures.Count == 0)
        {
            // The content is buffered (HttpClient's default), so it can be read again as daprd's error body.
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new DaprSidecarException($"Bulk publishing {events.Count} events to '{topic}' on pub/sub '{_pubSubName}' failed: {error}", error.Status, error.ErrorCode);
        }

        CountPublished(events.Count - failures.Count);
        throw new BulkPublishException(topic, events.Count, failures);
    }

    private void CountPublished(int count)
    {
        for (var i = 0; i < count; i++)
        {
            _metrics.CountPublished();
        }
    }

    private static string EntryId(int index) => index.ToString(CultureInfo.InvariantCulture);

    // {"failedEntries":[{"entryId":"1","error":"…"}],"errorCode":"ERR_PUBSUB_PUBLISH_MESSAGE"} (§1.4). Entries that do not
    // name one of ours are ignored; none at all means the request failed as a whole.
    private static List<BulkPublishFailure> ReadFailedEntries(byte[] body, int count)
    {
        var failures = new SortedDictionary<int, BulkPublishFailure>();
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("failedEntries", out var entries)
                && entries.ValueKind == JsonValueKind.Array)
            {
                foreach (var entry in entries.EnumerateArray())
                {
                    if (entry.ValueKind == JsonValueKind.Object
                        && entry.TryGetProperty("entryId", out var id) && id.ValueKind == JsonValueKind.String
                        && int.TryParse(id.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var index)
                        && index < count && EntryId(index) == id.GetString())
                    {
                        var error = entry.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()! : "no error given";
                        failures.TryAdd(index, new BulkPublishFailure(index, error));
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not daprd's bulk answer: reported as a failure of the whole request.
        }

        return [.. failures.Values];
    }
}
