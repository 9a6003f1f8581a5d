using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Mesh.Runtime;
using Microsoft.AspNetCore.Http;

namespace Mesh.Testing;

/// <summary>
/// daprd's actor runtime, as far as one app sees it, inside <see cref="FakeSidecar"/> (protocol §1.7, §2.7). It reads
/// the app's <c>GET /dapr/config</c>, then serves the actor API: invocations are relayed to the app's
/// <c>PUT /actors/{type}/{id}/method/{m}</c> one turn at a time per id (as daprd locks an actor cluster-wide), with a
/// non-200 answer folded into 500 <c>ERR_ACTOR_INVOKE_METHOD</c> and a 200 relayed with its headers; state transactions
/// and gets work on an in-memory store with TTLs on the fake clock; reminders fire on that clock through
/// <c>PUT …/method/remind/{name}</c>; and actors idle for the app's <c>actorIdleTimeout</c> get
/// <c>DELETE /actors/{type}/{id}</c> at the next <c>actorScanInterval</c> tick. Every call to the app is recorded.
/// </summary>
public sealed partial class FakeActorHost : IAsyncDisposable
{
    private readonly TimeProvider _clock;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, StoredValue> _state = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Type, string Id), long> _active = [];
    private readonly Dictionary<(string Type, string Id, string Name), Reminder> _reminders = [];
    private readonly ConcurrentDictionary<(string Type, string Id), SemaphoreSlim> _turns = new();
    private readonly List<AppCall> _appCalls = [];
    private readonly SemaphoreSlim _scanGate = new(1, 1);
    private readonly IdleTracker _work = new();
    private HttpClient? _app;
    private string? _appApiToken;
    private ITimer? _scanTimer;

    internal FakeActorHost(TimeProvider clock)
    {
        _clock = clock;
    }

    /// <summary>The actor types the app declared in <c>/dapr/config</c>.</summary>
    public IReadOnlyList<string> Entities { get; private set; } = [];

    public TimeSpan IdleTimeout { get; private set; }
    public TimeSpan ScanInterval { get; private set; }

    /// <summary>Every call made to the app (config, methods, reminders, deactivations), in order.</summary>
    public IReadOnlyList<AppCall> AppCalls
    {
        get
        {
            lock (_lock)
            {
                return [.. _appCalls];
            }
        }
    }

    /// <summary>Actors active now, as <c>type/id</c>.</summary>
    public IReadOnlyList<string> ActiveActors
    {
        get
        {
            lock (_lock)
            {
                return [.. _active.Keys.Select(k => $"{k.Type}/{k.Id}").Order(StringComparer.Ordinal)];
            }
        }
    }

    public int ReminderCount
    {
        get
        {
            lock (_lock)
            {
                return _reminders.Count;
            }
        }
    }

    /// <summary>
    /// Does what daprd does once the app port answers (§2.1): <c>GET /dapr/config</c> with the app token, which must
    /// be 200; then starts the idle scan. <paramref name="app"/> reaches the app (a TestServer client will do).
    /// </summary>
    public async Task ConnectAsync(HttpClient app, string? appApiToken = null)
    {
        _app = app;
        _appApiToken = appApiToken;
        var call = await CallAppAsync(HttpMethod.Get, "dapr/config", body: null);
        if (call.Status != StatusCodes.Status200OK)
        {
            throw new InvalidOperationException($"GET /dapr/config answered {call.Status}: the app hosts no actors.");
        }

        using var doc = JsonDocument.Parse(call.ResponseBody);
        var root = doc.RootElement;
        Entities = [.. root.GetProperty("entities").EnumerateArray().Select(e => e.GetString()!)];
        IdleTimeout = ParseDuration(root.GetProperty("actorIdleTimeout").GetString());
        ScanInterval = ParseDuration(root.GetProperty("actorScanInterval").GetString());
        _scanTimer = _clock.CreateTimer(_ => Background(ScanAsync), null, ScanInterval, ScanInterval);
    }

    /// <summary>Completes when no reminder delivery or idle scan is in progress (count them before <c>Advance</c> returns).</summary>
    public Task WaitForIdleAsync() => _work.WhenIdleAsync();

    /// <summary>The JSON stored for an actor's key, or null when missing or expired.</summary>
    public string? StateOf(string actorType, string actorId, string key)
    {
        lock (_lock)
        {
            return _state.TryGetValue(StateKey(actorType, actorId, key), out var v) && !IsExpired(v) ? v.Json : null;
        }
    }

    /// <summary>When an actor's key expires, if it has a TTL.</summary>
    public DateTimeOffset? ExpiryOf(string actorType, string actorId, string key)
    {
        lock (_lock)
        {
            return _state.TryGetValue(StateKey(actorType, actorId, key), out var v) ? v.ExpiresAt : null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_scanTimer is not null)
        {
            await _scanTimer.DisposeAsync();
        }

        lock (_lock)
        {
            foreach (var r in _reminders.Values)
            {
                r.Timer?.Dispose();
            }

            _reminders.Clear();
        }
    }

    /// <summary>Answers a request to <c>/v1.0/actors/…</c>; false for any other path.</summary>
    internal async Task<bool> TryHandleAsync(HttpContext context, RecordedRequest request)
    {
        var segments = request.Path.Split('/').Select(Uri.UnescapeDataString).ToArray();

        // "", "v1.0", "actors", type, id, kind, …
        if (segments.Length < 6 || segments[1] != "v1.0" || segments[2] != "actors")
        {
            return false;
        }

        var (type, id, kind) = (segments[3], segments[4], segments[5]);
        switch (kind, segments.Length, request.Method)
        {
            case ("method", 7, _):
                await InvokeAsync(context, type, id, segments[6], request);
                return true;
            case ("state", 6, "POST" or "PUT"):
                await TransactAsync(context, type, id, request);
                return true;
            case ("state", 7, "GET"):
                await GetStateAsync(context, type, id, segments[6]);
                return true;
            case ("reminders", 7, "POST" or "PUT"):
                await RegisterReminderAsync(context, type, id, segments[6], request);
                return true;
            case ("reminders", 7, "DELETE"):
                UnregisterReminder(type, id, segments[6]);
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return true;
            default:
                return false;
        }
    }

    private async Task InvokeAsync(HttpContext context, string type, string id, string method, RecordedRequest request)
    {
        if (!Entities.Contains(type))
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "ERR_ACTOR_INVOKE_METHOD", $"did not find address for actor {type}/{id}");
            return;
        }

        AppCall call;
        var turn = _turns.GetOrAdd((type, id), _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync();
        try
        {
            Activate(type, id);
            call = await CallAppAsync(HttpMethod.Put, $"actors/{Escape(type)}/{Escape(id)}/method/{Escape(method)}", request.Body);
        }
        finally
        {
            Touch(type, id);
            turn.Release();
        }

        // daprd requires exactly 200 and folds anything else, 204 included, into its own error (§2.7).
        if (call.Status != StatusCodes.Status200OK)
        {
            await ErrorAsync(context, StatusCodes.Status500InternalServerError, "ERR_ACTOR_INVOKE_METHOD", $"error from actor service: {Encoding.UTF8.GetString(call.ResponseBody)}");
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        if (call.ResponseHeaders.TryGetValue("X-DaprErrorResponseHeader", out var errorHeader))
        {
            context.Response.Headers["X-DaprErrorResponseHeader"] = errorHeader;
        }

        context.Response.ContentType = call.ResponseContentType ?? "application/json";
        await context.Response.Body.WriteAsync(call.ResponseBody);
    }

    private async Task TransactAsync(HttpContext context, string type, string id, RecordedRequest request)
    {
        var operations = new List<(string Op, string Key, string? Json, DateTimeOffset? ExpiresAt)>();
        try
        {
            using var doc = JsonDocument.Parse(request.Body);
            foreach (var op in doc.RootElement.EnumerateArray())
            {
                var operation = op.GetProperty("operation").GetString();
                var item = op.GetProperty("request");
                var key = item.GetProperty("key").GetString() ?? throw new FormatException("null key");
                if (key.Contains("||", StringComparison.Ordinal))
                {
                    throw new FormatException("key contains ||");
                }

                DateTimeOffset? expiresAt = null;
                if (item.TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty("ttlInSeconds", out var ttl))
                {
                    // A metadata value must be a JSON string; a number fails the request (§0).
                    var seconds = long.Parse(ttl.GetString()!, CultureInfo.InvariantCulture);
                    expiresAt = seconds < 0 ? null : _clock.GetUtcNow().AddSeconds(seconds);
                }

                operations.Add(operation switch
                {
                    "upsert" => ("upsert", key, item.GetProperty("value").GetRawText(), expiresAt),
                    "delete" => ("delete", key, null, null),
                    _ => throw new FormatException($"operation {operation}"),
                });
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or KeyNotFoundException)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "ERR_MALFORMED_REQUEST", e.Message);
            return;
        }

        lock (_lock)
        {
            foreach (var (op, key, json, expiresAt) in operations)
            {
                if (op == "upsert")
                {
                    _state[StateKey(type, id, key)] = new StoredValue(json!, expiresAt);
                }
                else
                {
                    _state.Remove(StateKey(type, id, key));
                }
            }
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private async Task GetStateAsync(HttpContext context, string type, string id, string key)
    {
        var json = StateOf(type, id, key);
        if (json is null)
        {
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json);
    }

    private async Task RegisterReminderAsync(HttpContext context, string type, string id, string name, RecordedRequest request)
    {
        Reminder reminder;
        try
        {
            using var doc = JsonDocument.Parse(request.Body);
            var root = doc.RootElement;
            var dueTime = root.TryGetProperty("dueTime", out var d) ? d.GetString() ?? "" : "";
            var period = root.TryGetProperty("period", out var p) ? p.GetString() ?? "" : "";
            var data = root.TryGetProperty("data", out var x) ? x.GetRawText() : null;
            reminder = new Reminder(type, id, name, dueTime, period, data);
            var due = dueTime.Length == 0 ? TimeSpan.Zero : ParseDuration(dueTime);
            var every = period.Length == 0 ? Timeout.InfiniteTimeSpan : ParseDuration(period);
            lock (_lock)
            {
                if (_reminders.Remove((type, id, name), out var old))
                {
                    old.Timer?.Dispose();
                }

                _reminders[(type, id, name)] = reminder;
                reminder.Timer = _clock.CreateTimer(_ => Background(() => FireAsync(reminder)), null, due, every);
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException)
        {
            await ErrorAsync(context, StatusCodes.Status400BadRequest, "ERR_MALFORMED_REQUEST", e.Message);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private void UnregisterReminder(string type, string id, string name)
    {
        lock (_lock)
        {
            if (_reminders.Remove((type, id, name), out var old))
            {
                old.Timer?.Dispose();
            }
        }
    }

    private async Task FireAsync(Reminder reminder)
    {
        var turn = _turns.GetOrAdd((reminder.Type, reminder.Id), _ => new SemaphoreSlim(1, 1));
        await turn.WaitAsync();
        try
        {
            Activate(reminder.Type, reminder.Id);
            var body = $$"""{"data":{{reminder.Data ?? "null"}},"dueTime":{{JsonSerializer.Serialize(reminder.DueTime)}},"period":{{JsonSerializer.Serialize(reminder.Period)}}}""";
            await CallAppAsync(HttpMethod.Put, $"actors/{Escape(reminder.Type)}/{Escape(reminder.Id)}/method/remind/{Escape(reminder.Name)}", Encoding.UTF8.GetBytes(body));
        }
        finally
        {
            Touch(reminder.Type, reminder.Id);
            turn.Release();
        }

        if (reminder.Period.Length == 0)
        {
            lock (_lock)
            {
                if (_reminders.TryGetValue((reminder.Type, reminder.Id, reminder.Name), out var current) && ReferenceEquals(current, reminder))
                {
                    _reminders.Remove((reminder.Type, reminder.Id, reminder.Name));
                    reminder.Timer?.Dispose();
                }
            }
        }
    }

    private async Task ScanAsync()
    {
        await _scanGate.WaitAsync();
        try
        {
            var now = _clock.GetUtcNow().UtcTicks;
            List<(string Type, string Id)> idle;
            lock (_lock)
            {
                idle = [.. _active.Where(a => now - a.Value >= IdleTimeout.Ticks).Select(a => a.Key)];
            }

            foreach (var (type, id) in idle)
            {
                var turn = _turns.GetOrAdd((type, id), _ => new SemaphoreSlim(1, 1));
                if (!turn.Wait(0))
                {
                    continue;
                }

                try
                {
                    lock (_lock)
                    {
                        _active.Remove((type, id));
                    }

                    await CallAppAsync(HttpMethod.Delete, $"actors/{Escape(type)}/{Escape(id)}", body: null);
                }
                finally
                {
                    turn.Release();
                }
            }
        }
        finally
        {
            _scanGate.Release();
        }
    }

    // Timer callbacks run inside FakeTimeProvider.Advance: count the work there, run it elsewhere.
    private void Background(Func<Task> work)
    {
        _work.Begin();
        _ = Task.Run(async () =>
        {
            try
            {
                await work();
            }
            finally
            {
                _work.End();
            }
        });
    }

    private async Task<AppCall> CallAppAsync(HttpMethod method, string path, byte[]? body)
    {
        var app = _app ?? throw new InvalidOperationException("ConnectAsync first.");
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new ByteArrayContent(body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        if (!string.IsNullOrEmpty(_appApiToken))
        {
            request.Headers.Add("dapr-api-token", _appApiToken);
        }

        using var response = await app.SendAsync(request);
        var headers = response.Headers.Concat(response.Content.Headers)
            .ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        var call = new AppCall(
            method.Method,
            "/" + path,
            body ?? [],
            (int)response.StatusCode,
            headers,
            response.Content.Headers.ContentType?.ToString(),
            await response.Content.ReadAsByteArrayAsync());
        lock (_lock)
        {
            _appCalls.Add(call);
        }

        return call;
    }

    private void Activate(string type, string id)
    {
        lock (_lock)
        {
            _active[(type, id)] = _clock.GetUtcNow().UtcTicks;
        }
    }

    private void Touch(string type, string id)
    {
        lock (_lock)
        {
            if (_active.ContainsKey((type, id)))
            {
                _active[(type, id)] = _clock.GetUtcNow().UtcTicks;
            }
        }
    }

    private bool IsExpired(StoredValue value) => value.ExpiresAt is { } at && _clock.GetUtcNow() >= at;

    private static string StateKey(string type, string id, string key) => $"{type}||{id}||{key}";

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private static Task ErrorAsync(HttpContext context, int status, string errorCode, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, string> { ["errorCode"] = errorCode, ["message"] = message }));
    }

    /// <summary>A Go duration (<c>1h</c>, <c>1m30s</c>, <c>1s500ms</c>), as daprd parses durations.</summary>
    public static TimeSpan ParseDuration(string? text)
    {
        if (string.IsNullOrEmpty(text) || !GoDuration().IsMatch(text))
        {
            throw new FormatException($"'{text}' is not a Go duration.");
        }

        var total = TimeSpan.Zero;
        foreach (Match m in GoDurationPart().Matches(text))
        {
            var amount = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            total += m.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                "us" or "µs" => TimeSpan.FromMicroseconds(amount),
                _ => TimeSpan.FromTicks((long)(amount / 100)),
            };
        }

        return total;
    }

    [GeneratedRegex(@"^(\d+(\.\d+)?(ns|us|µs|ms|h|m|s))+$")]
    private static partial Regex GoDuration();

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s)")]
    private static partial Regex GoDurationPart();

    private sealed record StoredValue(string Json, DateTimeOffset? ExpiresAt);

    private sealed record Reminder(string Type, string Id, string Name, string DueTime, string Period, string? Data)
    {
        public ITimer? Timer { get; set; }
    }
}

/// <summary>One call the fake sidecar made to the app, with the app's answer.</summary>
public sealed record AppCall(
    string Method,
    string Path,
    byte[] Body,
    int Status,
    IReadOnlyDictionary<string, string> ResponseHeaders,
    string? ResponseContentType,
    byte[] ResponseBody)
{
    public string BodyText => Encoding.UTF8.GetString(Body);
    public string ResponseText => Encoding.UTF8.GetString(ResponseBody);
}
