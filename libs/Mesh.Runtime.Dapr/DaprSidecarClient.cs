using Mesh.Contracts;
using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// The building-block ports over daprd's HTTP API (protocol reference §1). A typed <see cref="HttpClient"/> whose
/// base address and <c>dapr-api-token</c> header are set once from <see cref="DaprSidecarOptions"/> at registration.
/// </summary>
public sealed partial class DaprSidecarClient(
    HttpClient http,
    IOptions<MeshRuntimeOptions> runtime,
    IOptions<DaprSidecarOptions> sidecar,
    DeliveryMetrics metrics,
    TimeProvider clock) : IStateStore, IEventPublisher, IServiceInvoker
{
    private const string JsonMediaType = "application/json";
    private const int MaxDetailLength = 1024;
    private static readonly TimeSpan HealthPollInterval = TimeSpan.FromMilliseconds(100);

    private readonly HttpClient _http = http;
    private readonly string _pubSubName = runtime.Value.PubSubName;
    private readonly int _bulkParallelism = sidecar.Value.BulkGetParallelism;
    private readonly bool _invokeByHeader = sidecar.Value.InvokeByAppIdHeader;
    private readonly DeliveryMetrics _metrics = metrics;
    private readonly TimeProvider _clock = clock;

    /// <summary>The sidecar this client talks to.</summary>
    public Uri? Endpoint => _http.BaseAddress;

    public async Task<StateEntry<T>?> GetAsync<T>(string store, string key, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, StatePath(store, key));
        using var response = await SendStateAsync(request, store, cancellationToken);

        // A missing (or expired) key is 204 with an empty body, not 404 (§1.2).
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return null;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw await StateErrorAsync(response, "get", store, key, cancellationToken);
        }

        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        return new StateEntry<T>(ReadValue<T>(body, store, key), ReadETag(response) ?? string.Empty);
    }

    public async Task<IReadOnlyList<BulkStateEntry<T>>> GetBulkAsync<T>(string store, IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        if (keys.Count == 0)
        {
            return [];
        }

        var body = MeshJson.Serialize(new BulkGetRequest(keys, _bulkParallelism));
        using var request = JsonRequest(HttpMethod.Post, $"v1.0/state/{Escape(store)}/bulk", body);
        using var response = await SendStateAsync(request, store, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StateErrorAsync(response, "bulk get", store, key: null, cancellationToken);
        }

        var items = MeshJson.Deserialize<List<BulkGetItem>>(await response.Content.ReadAsByteArrayAsync(cancellationToken));
        var byKey = new Dictionary<string, BulkGetItem>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            if (!string.IsNullOrEmpty(item.Error))
            {
                throw new StateStoreException($"Bulk get of '{item.Key}' in state store '{store}' failed: {item.Error}");
            }

            byKey.TryAdd(item.Key, item);
        }

        // daprd answers in request order; matching on the key keeps a reordered or short answer correct too.
        var results = new BulkStateEntry<T>[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            results[i] = byKey.TryGetValue(keys[i], out var item) && item.Data is { ValueKind: not JsonValueKind.Undefined } data
                ? new BulkStateEntry<T>(keys[i], true, ReadValue<T>(data, store, keys[i]), item.ETag)
                : new BulkStateEntry<T>(keys[i], false, default, null);
        }

        return results;
    }

    public async Task SaveAsync<T>(string store, string key, T value, StateWriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        // The save body is always a JSON array of items, even for one key (§1.2).
        var body = WriteJson(w =>
        {
            w.WriteStartArray();
            WriteSaveItem(w, key, MeshJson.Serialize(value), options);
            w.WriteEndArray();
        });
        using var request = JsonRequest(HttpMethod.Post, $"v1.0/state/{Escape(store)}", body);
        using var response = await SendStateAsync(request, store, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StateErrorAsync(response, "save", store, key, cancellationToken);
        }
    }

    public async Task DeleteAsync(string store, string key, string? etag = null, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, StatePath(store, key));
        if (etag is not null)
        {
            // Store ETags are opaque and often unquoted ("1", a UUID), which the typed If-Match header would reject.
            request.Headers.TryAddWithoutValidation("If-Match", etag);
        }

        using var response = await SendStateAsync(request, store, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await StateErrorAsync(response, "delete", store, key, cancellationToken);
        }
    }

    public async Task TransactAsync(string store, IReadOnlyList<StateOperation> operations, CancellationToken cancellationToken = default)
    {
        var body = WriteJson(w =>
        {
            w.WriteStartObject();
            w.WriteStartArray("operations");
            foreach (var op in operations)
            {
                w.WriteStartObject();
                w.WriteString("operation", op.Kind == StateOperationKind.Upsert ? "upsert" : "delete");
                w.WritePropertyName("request");
                WriteSaveItem(w, op.Key, op.Kind == StateOperationKind.Upsert ? op.Value : null, op.Options);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
        using var request = JsonRequest(HttpMethod.Post, $"v1.0/state/{Escape(store)}/transaction", body);
        using var response = await SendStateAsync(request, store, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            // Inside a transaction an ETag mismatch is 500 ERR_STATE_TRANSACTION, not 409 (§1.2): every failure is one kind.
            var error = await ReadErrorAsync(response, cancellationToken);
            throw new StateTransactionException($"Transaction on state store '{store}' failed: {error}");
        }
    }

    // Content-Type must be exactly application/json: daprd then embeds the object as the CloudEvent's data,
    // while text/plain (StringContent's default) would make subscribers receive a JSON string (§1.3).
    public Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default) =>
        PublishBodyAsync($"v1.0/publish/{Escape(_pubSubName)}/{EscapePath(topic)}", topic, MeshJson.Serialize(data), JsonMediaType, cancellationToken);

    /// <summary>
    /// Posts <paramref name="request"/> as JSON to <c>/{method}</c> of <paramref name="appId"/>. daprd relays the callee's
    /// status unchanged, so a non-2xx answer becomes an <see cref="InvocationException"/> with that status; an
    /// unreachable sidecar is status 503.
    /// </summary>
    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string appId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        using var message = _invokeByHeader
            ? JsonRequest(HttpMethod.Post, EscapePath(method), MeshJson.Serialize(request))
            : JsonRequest(HttpMethod.Post, $"v1.0/invoke/{Escape(appId)}/method/{EscapePath(method)}", MeshJson.Serialize(request));
        if (_invokeByHeader)
        {
            // Any non-API path with dapr-app-id names the target; daprd removes the header before forwarding (§1.5).
            message.Headers.Add("dapr-app-id", appId);
        }

        using var response = await SendAsync(
            message,
            e => new InvocationException(appId, method, StatusCodes.Status503ServiceUnavailable, $"the Dapr sidecar at {Endpoint} is unreachable", e),
            cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvocationException(appId, method, (int)response.StatusCode, Detail(body));
        }

        try
        {
            return MeshJson.Deserialize<TResponse>(body);
        }
        catch (JsonException e)
        {
            throw new InvocationException(appId, method, (int)response.StatusCode, $"the response is not a valid {typeof(TResponse).Name}", e);
        }
    }

    /// <summary>
    /// Polls <c>GET /v1.0/healthz/outbound</c> until daprd answers 204 (its components are ready; it does not wait for
    /// the app, so an app may call this before it listens). Throws <see cref="TimeoutException"/> naming the endpoint
    /// after <paramref name="timeout"/>.
    /// </summary>
    public async Task WaitForSidecarAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var deadline = new CancellationTokenSource(timeout, _clock);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var last = "no answer";
        try
        {
            while (true)
            {
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, "v1.0/healthz/outbound");
                    using var response = await _http.SendAsync(request, linked.Token);
                    if (response.IsSuccessStatusCode)
                    {
                        return;
                    }

                    last = $"status {(int)response.StatusCode}";
                }
                catch (HttpRequestException e)
                {
                    last = e.Message;
                }

                await Task.Delay(HealthPollInterval, _clock, linked.Token);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException(
                $"The Dapr sidecar at {Endpoint} was not ready within {timeout} (GET /v1.0/healthz/outbound; last: {last}). "
                + "Check that daprd runs and that DaprSidecar:HttpEndpoint, DAPR_HTTP_ENDPOINT or DAPR_HTTP_PORT names it.");
        }
    }

    private Task<HttpResponseMessage> SendStateAsync(HttpRequestMessage request, string store, CancellationToken cancellationToken) =>
        SendAsync(request, e => new StateStoreException($"State store '{store}': the Dapr sidecar at {Endpoint} is unreachable.", e), cancellationToken);

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, Func<HttpRequestException, Exception> unreachable, CancellationToken cancellationToken)
    {
        AddTraceContext(request);
        try
        {
            return await _http.SendAsync(request, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw unreachable(e);
        }
    }

    // daprd continues the caller's trace from W3C headers (§1.3, §1.5). Set explicitly so propagation does not depend
    // on HttpClient's diagnostics handler being on; that handler never overwrites a header already present.
    private static void AddTraceContext(HttpRequestMessage request)
    {
        if (Activity.Current is not { IdFormat: ActivityIdFormat.W3C, Id: { } traceparent } activity)
        {
            return;
        }

        request.Headers.TryAddWithoutValidation("traceparent", traceparent);
        if (!string.IsNullOrEmpty(activity.TraceStateString))
        {
            request.Headers.TryAddWithoutValidation("tracestate", activity.TraceStateString);
        }
    }

    private static HttpRequestMessage JsonRequest(HttpMethod method, string path, byte[] json)
    {
        var content = new ByteArrayContent(json);
        content.Headers.ContentType = new MediaTypeHeaderValue(JsonMediaType);
        return new HttpRequestMessage(method, path) { Content = content };
    }

    private static void WriteSaveItem(Utf8JsonWriter w, string key, byte[]? value, StateWriteOptions? options)
    {
        w.WriteStartObject();
        w.WriteString("key", key);
        if (value is not null)
        {
            // Embedded as JSON, not as a string: daprd stores the value's JSON and GET returns it as is (§1.2).
            w.WritePropertyName("value");
            w.WriteRawValue(value, skipInputValidation: true);
        }

        if (options?.ETag is { } etag)
        {
            // Always a JSON string: a numeric etag fails the whole request (§0).
            w.WriteString("etag", etag);
        }

        if (options is { ETag: not null } or { FirstWrite: true })
        {
            // Under last-write Redis ignores the etag (§1.2), so a checked write must say first-write.
            w.WriteStartObject("options");
            w.WriteString("concurrency", "first-write");
            w.WriteEndObject();
        }

        if (options?.TimeToLive is { } ttl)
        {
            // Metadata values are strings on the wire ("ttlInSeconds":"3"); -1 means never expire (§1.2).
            var seconds = ttl <= TimeSpan.Zero ? -1 : (long)Math.Ceiling(ttl.TotalSeconds);
            w.WriteStartObject("metadata");
            w.WriteString("ttlInSeconds", seconds.ToString(CultureInfo.InvariantCulture));
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static byte[] WriteJson(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static async Task<StateStoreException> StateErrorAsync(HttpResponseMessage response, string operation, string store, string? key, CancellationToken cancellationToken)
    {
        // 409 is daprd's ETag mismatch on a single save or delete (§1.2); 400 (invalid etag, unknown store) and the
        // rest carry their errorCode in the message.
        if (response.StatusCode == HttpStatusCode.Conflict && key is not null)
        {
            return new StateConflictException(store, key);
        }

        var error = await ReadErrorAsync(response, cancellationToken);
        var subject = key is null ? string.Empty : $" of '{key}'";
        return new StateStoreException($"State {operation}{subject} in state store '{store}' failed: {error}");
    }

    private static async Task<DaprError> ReadErrorAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        string? code = null;
        string? message = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object)
            {
                code = doc.RootElement.TryGetProperty("errorCode", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                message = doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            }
        }
        catch (JsonException)
        {
            // Not every error is JSON: a wrong API token is 401 with plain text (§1.1).
        }

        return new DaprError((int)response.StatusCode, code, message ?? Detail(body));
    }

    private static T ReadValue<T>(ReadOnlySpan<byte> json, string store, string key)
    {
        try
        {
            return MeshJson.Deserialize<T>(json);
        }
        catch (JsonException e)
        {
            throw new StateStoreException($"The value of '{key}' in state store '{store}' is not a valid {typeof(T).Name}.", e);
        }
    }

    private static T ReadValue<T>(JsonElement json, string store, string key)
    {
        try
        {
            return json.Deserialize<T>(MeshJson.Options) ?? throw new JsonException("The JSON value was null.");
        }
        catch (JsonException e)
        {
            throw new StateStoreException($"The value of '{key}' in state store '{store}' is not a valid {typeof(T).Name}.", e);
        }
    }

    // daprd's ETags are bare ("1", a UUID) and so not valid HTTP entity tags; read the raw header value.
    private static string? ReadETag(HttpResponseMessage response) =>
        response.Headers.TryGetValues("ETag", out var values) ? values.FirstOrDefault() : null;

    private static string Detail(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        return text.Length <= MaxDetailLength ? text : text[..MaxDetailLength] + "…";
    }

    private static string StatePath(string store, string key) => $"v1.0/state/{Escape(store)}/{Escape(key)}";

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    // Topics and method paths may contain '/', which daprd keeps as a path separator (§1.3, §1.5).
    private static string EscapePath(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private sealed record BulkGetRequest(IReadOnlyList<string> Keys, int Parallelism);

    // daprd emits "data", not the documented "value" (BulkGetResponse, §1.2).
    private sealed record BulkGetItem(string Key, JsonElement? Data, string? ETag, string? Error);

    private sealed record DaprError(int Status, string? ErrorCode, string Message)
    {
        public override string ToString() => $"{Status} {ErrorCode ?? "(no errorCode)"}: {Message}";
    }
}
