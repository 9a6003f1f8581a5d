using System.Net.Http.Headers;
using System.Text.Json;
using Mesh.Contracts;

namespace Mesh.Runtime.Dapr;

// The two other ways to publish (§1.3): the app's own CloudEvent, and a raw payload that reaches the broker unwrapped.
public sealed partial class DaprSidecarClient
{
    private const string CloudEventsMediaType = "application/cloudevents+json";

    /// <summary>
    /// Publishes <paramref name="cloudEvent"/> as the app's own CloudEvent (<c>application/cloudevents+json</c>): daprd
    /// keeps its <c>id</c>, <c>source</c>, <c>type</c> and <c>subject</c> and only overwrites <c>topic</c> and
    /// <c>pubsubname</c>. Use it when a subscriber must see an id the app chose (for idempotency across publishers).
    /// </summary>
    public Task PublishCloudEventAsync<T>(string topic, OutgoingCloudEvent<T> cloudEvent, CancellationToken cancellationToken = default)
    {
        var body = WriteJson(w =>
        {
            w.WriteStartObject();
            w.WriteString("specversion", "1.0");
            w.WriteString("id", cloudEvent.Id);
            w.WriteString("source", cloudEvent.Source);
            w.WriteString("type", cloudEvent.Type);
            if (cloudEvent.Subject is not null)
            {
                w.WriteString("subject", cloudEvent.Subject);
            }

            // daprd does not default datacontenttype for an app's CloudEvent; without it a subscriber cannot tell JSON.
            w.WriteString("datacontenttype", "application/json");
            w.WritePropertyName("data");
            JsonSerializer.Serialize(w, cloudEvent.Data, MeshJson.Options);
            w.WriteEndObject();
        });
        return PublishBodyAsync($"v1.0/publish/{Escape(_pubSubName)}/{EscapePath(topic)}", topic, body, CloudEventsMediaType, cancellationToken);
    }

    /// <summary>
    /// Publishes <paramref name="payload"/> unwrapped (<c>metadata.rawPayload=true</c>): the broker gets the bytes as
    /// they are, for consumers that are not Dapr apps. A Dapr subscriber needs a raw-payload subscription to read them.
    /// </summary>
    public Task PublishRawAsync(string topic, byte[] payload, string contentType = "application/octet-stream", CancellationToken cancellationToken = default) =>
        PublishBodyAsync($"v1.0/publish/{Escape(_pubSubName)}/{EscapePath(topic)}?metadata.rawPayload=true", topic, payload, contentType, cancellationToken);

    private async Task PublishBodyAsync(string path, string topic, byte[] body, string contentType, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        using var response = await SendAsync(
            request, e => new DaprSidecarException($"Publishing to '{topic}' failed: the Dapr sidecar at {Endpoint} is unreachable.", inner: e), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new DaprSidecarException($"Publishing to '{topic}' on pub/sub '{_pubSubName}' failed: {error}", error.Status, error.ErrorCode);
        }

        _metrics.CountPublished();
    }
}

/// <summary>A CloudEvent the app builds itself; <see cref="Data"/> is sent as JSON.</summary>
public sealed record OutgoingCloudEvent<T>(string Id, string Source, string Type, T Data, string? Subject = null);
