using System.Text;
using System.Text.Json;
using Dapr.Client.Autogen.Grpc.v1;

namespace Mesh.Testing;

/// <summary>
/// One call the fake sidecar received. <see cref="Api"/> is the gRPC method (<c>GetState</c>, <c>GetBulkState</c>,
/// <c>SaveState</c>, <c>DeleteState</c>, <c>ExecuteStateTransaction</c>, <c>PublishEvent</c>) or the HTTP API
/// (<c>InvokeService</c>, <c>InvokeActor</c>, <c>SaveActorState</c>, <c>GetActorState</c>, <c>Reminder</c>, <c>Timer</c>,
/// <c>Healthz</c>, <c>Unauthorized</c>) or a call the sidecar made itself (<c>FireReminder</c>). <see cref="Target"/> is
/// the store, pub/sub, app-id or <c>type/id</c> of an actor;
/// <see cref="Key"/> the key, topic or method; <see cref="TraceParent"/> the call's W3C <c>traceparent</c> header.
/// </summary>
public sealed record SidecarCall(
    string Api,
    string Target,
    string Key,
    string? Operation = null,
    string? ETag = null,
    string? Concurrency = null,
    string? ContentType = null,
    IReadOnlyDictionary<string, string>? Metadata = null,
    byte[]? Body = null,
    string? ApiToken = null,
    string? HttpMethod = null,
    string? TraceParent = null)
{
    public string BodyText => Body is null ? string.Empty : Encoding.UTF8.GetString(Body);

    public JsonElement Json => JsonDocument.Parse(Body ?? "null"u8.ToArray()).RootElement;

    internal static SidecarCall FromState(string api, string store, StateItem item, string? operation, string? token) => new(
        api,
        store,
        item.Key,
        operation,
        item.Etag?.Value,
        item.Options?.Concurrency.ToString(),
        Metadata: item.Metadata.ToDictionary(),
        Body: item.Value.IsEmpty ? null : item.Value.ToByteArray(),
        ApiToken: token);
}

/// <summary>One write of a state operation as the fake sidecar applies it: a null <see cref="Value"/> deletes.</summary>
internal sealed record StateWrite(string Key, byte[]? Value, string? ETag, bool FirstWrite, IReadOnlyDictionary<string, string>? Metadata);
