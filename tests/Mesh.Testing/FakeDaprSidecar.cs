using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Grpc.AspNetCore.Server.Model;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>
/// A stand-in for daprd in process, on loopback: an HTTP/2 cleartext port serving daprd's gRPC API with the official
/// messages of Dapr.Protos (state, publish), and an HTTP/1.1 port for what the SDK does over HTTP (service invocation,
/// actors, <c>healthz/outbound</c>). It records every call (<see cref="Calls"/>), keeps state in memory with ETags,
/// forwards invocations and actor calls to the apps connected with <see cref="ConnectAppAsync"/>, and delivers
/// CloudEvents to them. With <see cref="ApiToken"/> set it refuses calls without it, as daprd with <c>DAPR_API_TOKEN</c>;
/// with <see cref="AppApiToken"/> set it presents it on every call into an app, as daprd with <c>APP_API_TOKEN</c>.
/// Time is the clock it is given: a <c>ttlInSeconds</c> ends a key on that clock, and registered reminders fire when a
/// test calls <see cref="FireDueRemindersAsync"/>, so nothing waits on the wall clock.
/// </summary>
public sealed partial class FakeDaprSidecar : IAsyncDisposable
{
    private WebApplication _host = null!;
    private readonly Lock _lock = new();
    private readonly List<SidecarCall> _calls = [];
    private readonly List<(string Api, int Count, TaskCompletionSource Done)> _waiters = [];
    private readonly Dictionary<(string Store, string Key), StoredValue> _state = [];
    private readonly Dictionary<(string Type, string Id, string Name), Reminder> _reminders = [];
    private readonly Dictionary<(string Api, string Target), Fault> _faults = [];
    private readonly Dictionary<(string AppId, string Method), (int Status, string Json)> _answers = [];
    private readonly Dictionary<string, HttpClient> _apps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _actorHosts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, JsonArray> _subscriptions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _actorTurns = new(StringComparer.Ordinal);
    private readonly TimeProvider _clock;
    private long _etag;

    private FakeDaprSidecar(string? apiToken, string? appApiToken, TimeProvider clock)
    {
        ApiToken = apiToken;
        AppApiToken = appApiToken;
        _clock = clock;
    }

    /// <summary>For <c>DAPR_GRPC_ENDPOINT</c>: the HTTP/2 cleartext port.</summary>
    public Uri GrpcEndpoint { get; private set; } = null!;

    /// <summary>For <c>DAPR_HTTP_ENDPOINT</c>: the HTTP/1.1 port.</summary>
    public Uri HttpEndpoint { get; private set; } = null!;

    /// <summary>The <c>dapr-api-token</c> every call but the health probes must carry; null: none needed.</summary>
    public string? ApiToken { get; }

    /// <summary>The <c>dapr-api-token</c> presented on every call into an app; null: none.</summary>
    public string? AppApiToken { get; }

    /// <summary>The settings that point an app's SDK at this sidecar (and give it the tokens).</summary>
    public IReadOnlyDictionary<string, string> AppSettings => new Dictionary<string, string>
    {
        ["DAPR_GRPC_ENDPOINT"] = GrpcEndpoint.ToString().TrimEnd('/'),
        ["DAPR_HTTP_ENDPOINT"] = HttpEndpoint.ToString().TrimEnd('/'),
        ["DAPR_API_TOKEN"] = ApiToken ?? string.Empty,
        ["APP_API_TOKEN"] = AppApiToken ?? string.Empty,
    };

    /// <summary>Points an app under test (a <c>WebApplicationFactory</c>'s host) at this sidecar.</summary>
    public void Configure(IWebHostBuilder app)
    {
        foreach (var (key, value) in AppSettings)
        {
            app.UseSetting(key, value);
        }
    }

    /// <summary>Every call so far, in arrival order; a save or transaction is one call per item.</summary>
    public IReadOnlyList<SidecarCall> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>Starts the sidecar; <paramref name="clock"/> (the system's if null) times TTLs and reminders.</summary>
    public static async Task<FakeDaprSidecar> StartAsync(string? apiToken = null, string? appApiToken = null, TimeProvider? clock = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2);
            k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1);
        });
        var sidecar = new FakeDaprSidecar(apiToken, appApiToken, clock ?? TimeProvider.System);
        builder.Services.AddSingleton(sidecar);
        // As the mesh's daprd runs for the trainer (64 MB bodies): a model checkpoint is about 23 MB.
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 64 << 20);
        builder.Services.AddSingleton<DaprGrpcService>();
        builder.Services.AddSingleton<IServiceMethodProvider<DaprGrpcService>, DaprGrpcService.MethodProvider>();
        var host = sidecar._host = builder.Build();
        host.MapGrpcService<DaprGrpcService>();
        host.Map("/v1.0/{**path}", sidecar.HandleHttpAsync);
        await host.StartAsync();

        // Kestrel lists the bound addresses in the order of the Listen calls above.
        var addresses = host.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.ToList();
        sidecar.GrpcEndpoint = new Uri(addresses[0]);
        sidecar.HttpEndpoint = new Uri(addresses[1]);
        return sidecar;
    }

    /// <summary>
    /// Connects an app as daprd does at startup: reads its <c>dapr/config</c> (the actor types it hosts) and
    /// <c>dapr/subscribe</c>. Invocations of <paramref name="appId"/> and calls of those actor types go to it from now on.
    /// </summary>
    public async Task ConnectAppAsync(string appId, HttpClient app)
    {
        using var config = await app.SendAsync(ToApp(HttpMethod.Get, "dapr/config"));
        using var subscribe = await app.SendAsync(ToApp(HttpMethod.Get, "dapr/subscribe"));
        var entities = config.IsSuccessStatusCode
            ? JsonNode.Parse(await config.Content.ReadAsStringAsync())?["entities"]?.AsArray().Select(e => e!.GetValue<string>()).ToList() ?? []
            : [];
        var subscriptions = subscribe.IsSuccessStatusCode ? JsonNode.Parse(await subscribe.Content.ReadAsStringAsync())!.AsArray() : [];
        lock (_lock)
        {
            _apps[appId] = app;
            _subscriptions[appId] = subscriptions;
            foreach (var entity in entities)
            {
                _actorHosts[entity] = appId;
            }
        }
    }

    /// <summary>The app's <c>dapr/subscribe</c> document as read by <see cref="ConnectAppAsync"/>.</summary>
    public JsonArray SubscriptionsOf(string appId)
    {
        lock (_lock)
        {
            return _subscriptions[appId];
        }
    }

    /// <summary>
    /// Posts a CloudEvent as daprd builds it for an <c>application/json</c> publish (<paramref name="dataJson"/> as its
    /// <c>data</c>) to the route the app subscribed <paramref name="topic"/> with, and returns the app's reply.
    /// </summary>
    /// <remarks>
    /// With <paramref name="traceParent"/> the CloudEvent carries it (<c>traceparent</c> and <c>traceid</c>) and so does the
    /// request's <c>traceparent</c> header, as daprd sends an event published in a trace.
    /// </remarks>
    public async Task<(int Status, string Body)> DeliverAsync(string appId, string topic, string cloudEventId, string dataJson, string source = "router", string? traceParent = null)
    {
        var cloudEvent = CloudEvent(topic, cloudEventId, dataJson, source);
        var request = ToApp(HttpMethod.Post, RouteOf(appId, topic));
        if (traceParent is not null)
        {
            cloudEvent["traceid"] = traceParent;
            cloudEvent["traceparent"] = traceParent;
            request.Headers.Add("traceparent", traceParent);
        }

        request.Content = new StringContent(cloudEvent.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/cloudevents+json"));
        request.Headers.Add("pubsubname", "pubsub");
        return await SendToAppAsync(appId, request);
    }

    /// <summary>Posts one bulk request (<c>com.dapr.event.sent.bulk</c>), one entry per CloudEvent, and returns the app's reply.</summary>
    public async Task<(int Status, string Body)> DeliverBulkAsync(string appId, string topic, params (string EntryId, string CloudEventId, string DataJson)[] entries)
    {
        var body = new JsonObject
        {
            ["id"] = Guid.NewGuid().ToString(),
            ["type"] = "com.dapr.event.sent.bulk",
            ["topic"] = topic,
            ["pubsubname"] = "pubsub",
            ["metadata"] = new JsonObject(),
            ["entries"] = new JsonArray([.. entries.Select(e => (JsonNode)new JsonObject
            {
                ["entryId"] = e.EntryId,
                ["event"] = CloudEvent(topic, e.CloudEventId, e.DataJson, "router"),
                ["metadata"] = new JsonObject(),
                ["contentType"] = "application/cloudevents+json",
            })]),
        };

        // Not the CloudEvents media type: a bulk request is delivered whole.
        var request = ToApp(HttpMethod.Post, RouteOf(appId, topic));
        request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, new MediaTypeHeaderValue("application/json"));
        return await SendToAppAsync(appId, request);
    }

    /// <summary>Stores <paramref name="json"/> under a key as a save through the API would, with a fresh ETag.</summary>
    public string SetState(string store, string key, string json)
    {
        lock (_lock)
        {
            var etag = NextETag();
            _state[(store, key)] = new StoredValue(Encoding.UTF8.GetBytes(json), etag, Expires: null);
            return etag;
        }
    }

    /// <summary>The JSON stored under a key (state API or actor state), or null.</summary>
    public string? StateOf(string store, string key) => Get(store, key) is { } entry ? Encoding.UTF8.GetString(entry.Value) : null;

    /// <summary>The JSON of an actor's state key, saved through the actor state API, or null.</summary>
    public string? ActorStateOf(string actorType, string actorId, string key) => StateOf(ActorStore, $"{actorType}||{actorId}||{key}");

    /// <summary>
    /// Makes the next <paramref name="times"/> calls of <paramref name="api"/> (a <see cref="SidecarCall.Api"/>) on
    /// <paramref name="target"/> fail with <paramref name="status"/>: as daprd's gRPC status (500 Internal, 409 Aborted,
    /// 400 InvalidArgument) or HTTP status with an error body.
    /// </summary>
    public void Fail(string api, string target, int status = 500, int times = int.MaxValue)
    {
        lock (_lock)
        {
            _faults[(api, target)] = new Fault(status, times);
        }
    }

    /// <summary>Answers invocations of <paramref name="method"/> on <paramref name="appId"/> as that app would, without one.</summary>
    public void Answer(string appId, string method, string json, int status = StatusCodes.Status200OK)
    {
        lock (_lock)
        {
            _answers[(appId, method)] = (status, json);
        }
    }

    /// <summary>The calls of one API (a <see cref="SidecarCall.Api"/>).</summary>
    public IReadOnlyList<SidecarCall> CallsTo(string api) => [.. Calls.Where(c => c.Api == api)];

    /// <summary>Completes once <paramref name="count"/> calls of <paramref name="api"/> have arrived (at once if they have).</summary>
    public Task WaitForCallsAsync(string api, int count)
    {
        lock (_lock)
        {
            if (_calls.Count(c => c.Api == api) >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((api, count, done));
            return done.Task;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        await _host.DisposeAsync();
    }

    // Actor state lives in a store of its own, keyed as daprd keys it (minus the app-id prefix).
    internal const string ActorStore = "actorstate";

    internal void Record(SidecarCall call)
    {
        lock (_lock)
        {
            _calls.Add(call);
            foreach (var waiter in _waiters.Where(w => _calls.Count(c => c.Api == w.Api) >= w.Count).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Done.TrySetResult();
            }
        }
    }

    /// <summary>The status scripted by <see cref="Fail"/> for this call, counting it down; null: no fault.</summary>
    internal int? FaultFor(string api, string target)
    {
        lock (_lock)
        {
            if (!_faults.TryGetValue((api, target), out var fault) || fault.Remaining <= 0)
            {
                return null;
            }

            fault.Remaining--;
            return fault.Status;
        }
    }

    internal bool Authorized(string? token) => ApiToken is null || token == ApiToken;

    /// <summary>The value and ETag under a key, or null: never written, deleted, or past its TTL on the sidecar's clock.</summary>
    internal (byte[] Value, string ETag)? Get(string store, string key)
    {
        lock (_lock)
        {
            return _state.TryGetValue((store, key), out var entry) && Live(entry) ? (entry.Value, entry.ETag) : null;
        }
    }

    /// <summary>
    /// Applies upserts (value set) and deletes (value null) all or none, with daprd's in-memory store's ETag rules: a
    /// given ETag must match, and first-write without one fails on an existing key. An upsert's <c>ttlInSeconds</c>
    /// metadata (-1: none) ends it on the sidecar's clock. False: an ETag mismatch.
    /// </summary>
    internal bool Apply(string store, IReadOnlyList<StateWrite> writes)
    {
        lock (_lock)
        {
            foreach (var write in writes)
            {
                var exists = _state.TryGetValue((store, write.Key), out var current) && Live(current);
                if ((write.ETag is { Length: > 0 } && (!exists || current!.ETag != write.ETag)) || (write.FirstWrite && string.IsNullOrEmpty(write.ETag) && exists))
                {
                    return false;
                }
            }

            foreach (var write in writes)
            {
                if (write.Value is null)
                {
                    _state.Remove((store, write.Key));
                }
                else
                {
                    var ttl = write.Metadata?.GetValueOrDefault("ttlInSeconds") is { } seconds ? long.Parse(seconds, CultureInfo.InvariantCulture) : -1;
                    _state[(store, write.Key)] = new StoredValue(write.Value, NextETag(), ttl < 0 ? null : _clock.GetUtcNow().AddSeconds(ttl));
                }
            }

            return true;
        }
    }

    /// <summary>
    /// Fires every reminder due by now on the sidecar's clock, one call at a time through the actor's turn, as daprd
    /// calls <c>PUT actors/{type}/{id}/method/remind/{name}</c>; a periodic one is due again a period after it was due,
    /// so a clock moved past several periods fires it that many times. Returns the number fired.
    /// </summary>
    public async Task<int> FireDueRemindersAsync()
    {
        var fired = 0;
        while (NextDueReminder() is var ((type, id, name), reminder) && reminder is not null)
        {
            var body = new JsonObject { ["dueTime"] = reminder.DueTime, ["period"] = reminder.Period };
            if (reminder.Data is not null)
            {
                body["data"] = reminder.Data.DeepClone();
            }

            Record(new SidecarCall("FireReminder", $"{type}/{id}", name, Body: Encoding.UTF8.GetBytes(body.ToJsonString())));
            var (status, text) = await CallActorAsync(type, id, $"method/remind/{name}", HttpMethod.Put, Encoding.UTF8.GetBytes(body.ToJsonString()), CancellationToken.None);
            if (status != StatusCodes.Status200OK)
            {
                throw new InvalidOperationException($"reminder {name} of {type}/{id} failed: {status} {text}");
            }

            lock (_lock)
            {
                // Unless the callback unregistered or replaced it: a periodic reminder is due again, a one-off is done.
                if (_reminders.TryGetValue((type, id, name), out var current) && ReferenceEquals(current, reminder))
                {
                    if (reminder.Every is { } every)
                    {
                        _reminders[(type, id, name)] = reminder with { Due = reminder.Due + every };
                    }
                    else
                    {
                        _reminders.Remove((type, id, name));
                    }
                }
            }

            fired++;
        }

        return fired;
    }

    /// <summary>The names of an actor's registered reminders.</summary>
    public IReadOnlyList<string> RemindersOf(string actorType, string actorId)
    {
        lock (_lock)
        {
            return [.. _reminders.Keys.Where(k => k.Type == actorType && k.Id == actorId).Select(k => k.Name)];
        }
    }

    /// <summary>Deactivates an actor as daprd does when it is idle or moves: <c>DELETE actors/{type}/{id}</c> on its app.</summary>
    public async Task DeactivateActorAsync(string actorType, string actorId)
    {
        var (status, text) = await CallActorAsync(actorType, actorId, string.Empty, HttpMethod.Delete, body: null, CancellationToken.None);
        if (status != StatusCodes.Status200OK)
        {
            throw new InvalidOperationException($"deactivating {actorType}/{actorId} failed: {status} {text}");
        }
    }

    // Called with _lock held.
    private string NextETag() => (++_etag).ToString(CultureInfo.InvariantCulture);

    // Called with _lock held.
    private bool Live(StoredValue entry) => entry.Expires is not { } expires || _clock.GetUtcNow() < expires;

    private ((string Type, string Id, string Name) Key, Reminder? Reminder) NextDueReminder()
    {
        lock (_lock)
        {
            var now = _clock.GetUtcNow();
            var due = _reminders.Where(r => r.Value.Due <= now).OrderBy(r => r.Value.Due).FirstOrDefault();
            return (due.Key, due.Value);
        }
    }

    private async Task HandleHttpAsync(HttpContext http)
    {
        var path = http.Request.Path.Value!["/v1.0/".Length..];
        var segments = path.Split('/');
        using var buffer = new MemoryStream();
        await http.Request.Body.CopyToAsync(buffer, http.RequestAborted);
        var body = buffer.ToArray();
        var token = http.Request.Headers["dapr-api-token"].FirstOrDefault();

        if (path.StartsWith("healthz", StringComparison.Ordinal))
        {
            // The health endpoints need no token.
            Record(new SidecarCall("Healthz", path, string.Empty));
            http.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        if (!Authorized(token))
        {
            Record(new SidecarCall("Unauthorized", path, string.Empty, ApiToken: token));
            http.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await http.Response.WriteAsync("invalid api token");
            return;
        }

        var response = segments switch
        {
            ["invoke", var appId, "method", .. var method] => await InvokeAsync(http, appId, string.Join('/', method), body, token),
            ["actors", var type, var id, "method", var method] => await InvokeActorAsync(http, type, id, method, body, token),
            ["actors", var type, var id, "state"] => SaveActorState(type, id, body, token),
            ["actors", var type, var id, "state", var key] => GetActorState(type, id, key, token),
            ["actors", var type, var id, "reminders" or "timers", var name] => Scheduled(http, type, id, segments[3], name, body, token),
            _ => (StatusCodes.Status404NotFound, (string?)null, (string?)null),
        };

        http.Response.StatusCode = response.Item1;
        if (response.Item2 is { } text)
        {
            http.Response.ContentType = response.Item3 ?? "application/json";
            await http.Response.WriteAsync(text);
        }
    }

    private async Task<(int, string?, string?)> InvokeAsync(HttpContext http, string appId, string method, byte[] body, string? token)
    {
        var traceParent = http.Request.Headers["traceparent"].FirstOrDefault();
        Record(new SidecarCall("InvokeService", appId, method, ContentType: http.Request.ContentType, Body: body, ApiToken: token, HttpMethod: http.Request.Method, TraceParent: traceParent));
        if (FaultFor("InvokeService", appId) is { } status)
        {
            return (status, Error("ERR_DIRECT_INVOKE", $"failed to invoke, id: {appId}"), null);
        }

        HttpClient? app;
        lock (_lock)
        {
            if (_answers.TryGetValue((appId, method), out var answer))
            {
                return (answer.Status, answer.Json, "application/json");
            }

            app = _apps.GetValueOrDefault(appId);
        }

        if (app is null)
        {
            return (StatusCodes.Status500InternalServerError, Error("ERR_DIRECT_INVOKE", $"failed to invoke, id: {appId}, err: no app"), null);
        }

        // The callee gets the same verb, path, body and content type, and the trace context; its status and body come back unchanged.
        var request = ToApp(new HttpMethod(http.Request.Method), method);
        foreach (var header in (string[])["traceparent", "tracestate"])
        {
            if (http.Request.Headers[header].FirstOrDefault() is { Length: > 0 } value)
            {
                request.Headers.TryAddWithoutValidation(header, value);
            }
        }

        request.Content = new ByteArrayContent(body);
        if (http.Request.ContentType is { } contentType)
        {
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        using var response = await app.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(), response.Content.Headers.ContentType?.ToString());
    }

    private async Task<(int, string?, string?)> InvokeActorAsync(HttpContext http, string type, string id, string method, byte[] body, string? token)
    {
        Record(new SidecarCall("InvokeActor", $"{type}/{id}", method, ContentType: http.Request.ContentType, Body: body, ApiToken: token, HttpMethod: http.Request.Method));
        var (status, text) = await CallActorAsync(type, id, $"method/{method}", HttpMethod.Put, body, http.RequestAborted);

        // Anything but exactly 200 from the app is daprd's own 500.
        return status == StatusCodes.Status200OK
            ? (StatusCodes.Status200OK, text, "application/json")
            : (StatusCodes.Status500InternalServerError, Error("ERR_ACTOR_INVOKE_METHOD", $"error invoke actor method: {status} {text}"), null);
    }

    /// <summary>
    /// Calls the app that hosts <paramref name="type"/> at <c>actors/{type}/{id}/{path}</c> inside the actor's turn: one
    /// call at a time per actor, as daprd's placement and turn lock give it.
    /// </summary>
    private async Task<(int Status, string Body)> CallActorAsync(string type, string id, string path, HttpMethod method, byte[]? body, CancellationToken cancellationToken)
    {
        HttpClient? app;
        lock (_lock)
        {
            app = _actorHosts.TryGetValue(type, out var appId) ? _apps[appId] : null;
        }

        if (app is null)
        {
            return (StatusCodes.Status500InternalServerError, Error("ERR_ACTOR_INSTANCE_MISSING", $"no app hosts actor type {type}"));
        }

        var turn = _actorTurns.GetOrAdd($"{type}/{id}", _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync(cancellationToken);
        try
        {
            var request = ToApp(method, $"actors/{type}/{id}/{path}".TrimEnd('/'));
            if (body is not null)
            {
                request.Content = new ByteArrayContent(body);
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            }

            using var response = await app.SendAsync(request, cancellationToken);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
        }
        finally
        {
            turn.Release();
        }
    }

    private (int, string?, string?) SaveActorState(string type, string id, byte[] body, string? token)
    {
        var writes = new List<StateWrite>();
        foreach (var operation in JsonNode.Parse(body)!.AsArray())
        {
            var request = operation!["request"]!;
            var key = request["key"]!.GetValue<string>();
            var upsert = operation["operation"]!.GetValue<string>() == "upsert";
            var value = upsert ? Encoding.UTF8.GetBytes(request["value"]?.ToJsonString() ?? "null") : null;
            var metadata = request["metadata"]?.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
            Record(new SidecarCall("SaveActorState", $"{type}/{id}", key, Operation: operation["operation"]!.GetValue<string>(), Metadata: metadata, Body: value, ApiToken: token));
            writes.Add(new StateWrite($"{type}||{id}||{key}", value, ETag: null, FirstWrite: false, metadata));
        }

        Apply(ActorStore, writes);
        return (StatusCodes.Status204NoContent, null, null);
    }

    private (int, string?, string?) GetActorState(string type, string id, string key, string? token)
    {
        Record(new SidecarCall("GetActorState", $"{type}/{id}", key, ApiToken: token));
        return Get(ActorStore, $"{type}||{id}||{key}") is { } entry
            ? (StatusCodes.Status200OK, Encoding.UTF8.GetString(entry.Value), "application/json")
            : (StatusCodes.Status204NoContent, null, null);
    }

    private (int, string?, string?) Scheduled(HttpContext http, string type, string id, string kind, string name, byte[] body, string? token)
    {
        Record(new SidecarCall(kind == "reminders" ? "Reminder" : "Timer", $"{type}/{id}", name, Body: body, ApiToken: token, HttpMethod: http.Request.Method));
        if (kind != "reminders")
        {
            return (StatusCodes.Status204NoContent, null, null);
        }

        lock (_lock)
        {
            if (HttpMethods.IsDelete(http.Request.Method))
            {
                _reminders.Remove((type, id, name));
                return (StatusCodes.Status204NoContent, null, null);
            }

            // Registering again replaces the reminder, schedule and all, as daprd does.
            var registration = JsonNode.Parse(body)!;
            var dueTime = registration["dueTime"]?.GetValue<string>() ?? string.Empty;
            var period = registration["period"]?.GetValue<string>() ?? string.Empty;
            if (!TryParseDuration(dueTime, out var due) || !TryParseDuration(period, out var every))
            {
                return (StatusCodes.Status400BadRequest, Error("ERR_ACTOR_REMINDER_CREATE", $"unsupported dueTime or period: '{dueTime}', '{period}'"), null);
            }

            _reminders[(type, id, name)] = new Reminder(_clock.GetUtcNow() + (due ?? TimeSpan.Zero), every, dueTime, period, registration["data"]?.DeepClone());
            return (StatusCodes.Status204NoContent, null, null);
        }
    }

    /// <summary>Reads Dapr's duration format as the SDK writes it (<c>168h0m0s0ms</c>); empty: none.</summary>
    private static bool TryParseDuration(string text, out TimeSpan? value)
    {
        value = null;
        if (text.Length == 0)
        {
            return true;
        }

        var match = DaprDuration().Match(text);
        if (!match.Success)
        {
            return false;
        }

        int Part(int i) => int.Parse(match.Groups[i].Value, CultureInfo.InvariantCulture);
        value = TimeSpan.FromHours(Part(1)) + TimeSpan.FromMinutes(Part(2)) + TimeSpan.FromSeconds(Part(3)) + TimeSpan.FromMilliseconds(Part(4));
        return true;
    }

    [GeneratedRegex(@"^(\d+)h(\d+)m(\d+)s(\d+)ms$")]
    private static partial Regex DaprDuration();

    private string RouteOf(string appId, string topic)
    {
        var subscription = SubscriptionsOf(appId).Single(s => s!["topic"]!.GetValue<string>() == topic)!;
        return subscription["route"]!.GetValue<string>().TrimStart('/');
    }

    private async Task<(int Status, string Body)> SendToAppAsync(string appId, HttpRequestMessage request)
    {
        HttpClient app;
        lock (_lock)
        {
            app = _apps[appId];
        }

        using var response = await app.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private HttpRequestMessage ToApp(HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, new Uri("/" + path.TrimStart('/'), UriKind.Relative));
        if (AppApiToken is not null)
        {
            request.Headers.Add("dapr-api-token", AppApiToken);
        }

        return request;
    }

    private static JsonObject CloudEvent(string topic, string id, string dataJson, string source) => new()
    {
        ["id"] = id,
        ["specversion"] = "1.0",
        ["datacontenttype"] = "application/json",
        ["source"] = source,
        ["type"] = "com.dapr.event.sent",
        ["topic"] = topic,
        ["pubsubname"] = "pubsub",
        ["traceid"] = string.Empty,
        ["traceparent"] = string.Empty,
        ["tracestate"] = string.Empty,
        ["time"] = "2026-01-05T12:00:00Z",
        ["data"] = JsonNode.Parse(dataJson),
    };

    private static string Error(string code, string message) => JsonSerializer.Serialize(new Dictionary<string, string> { ["errorCode"] = code, ["message"] = message });

    private sealed record StoredValue(byte[] Value, string ETag, DateTimeOffset? Expires);

    /// <summary>A registered reminder: when it is next due, its period (null: fires once), and what it was registered with.</summary>
    private sealed record Reminder(DateTimeOffset Due, TimeSpan? Every, string DueTime, string Period, JsonNode? Data);

    private sealed class Fault(int status, int remaining)
    {
        public int Status { get; } = status;
        public int Remaining { get; set; } = remaining;
    }
}
