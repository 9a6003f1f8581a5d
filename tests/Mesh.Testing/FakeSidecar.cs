using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Mesh.Testing;

/// <summary>
/// A stand-in for daprd on a real loopback port (Kestrel on 127.0.0.1, port 0). It records every request and answers
/// with the responses scripted for its route by <see cref="On"/>, or else with daprd's success answer (204 for state writes,
/// publish, bulk publish, health and a missing key; 200 for bulk get and invoke; 404 off the API).
/// </summary>
public sealed class FakeSidecar : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly Dictionary<(string Method, string Path), Script> _scripts = [];
    private readonly List<(string Method, string Path, int Count, TaskCompletionSource Done)> _waiters = [];

    private FakeSidecar(WebApplication app)
    {
        _app = app;
    }

    /// <summary>Base URL, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>Every request so far, in arrival order.</summary>
    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<FakeSidecar> StartAsync(CancellationToken cancellationToken = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var sidecar = new FakeSidecar(app);
        app.Run(sidecar.HandleAsync);
        await app.StartAsync(cancellationToken);
        sidecar.Url = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return sidecar;
    }

    /// <summary>
    /// Answers <paramref name="method"/> on <paramref name="path"/> (the raw path as sent, without query) with
    /// <paramref name="responses"/> in turn; the last one repeats. Replaces an earlier script for the route.
    /// </summary>
    public void On(string method, string path, params FakeResponse[] responses)
    {
        ArgumentOutOfRangeException.ThrowIfZero(responses.Length);
        lock (_lock)
        {
            _scripts[(method.ToUpperInvariant(), path)] = new Script(responses);
        }
    }

    /// <summary>The requests to one route (raw path without query).</summary>
    public IReadOnlyList<RecordedRequest> RequestsTo(string method, string path) =>
        [.. Requests.Where(r => r.Method.Equals(method, StringComparison.OrdinalIgnoreCase) && r.Path == path)];

    /// <summary>Completes once <paramref name="count"/> requests to the route have arrived (at once if they have).</summary>
    public Task WaitForRequestsAsync(string method, string path, int count)
    {
        lock (_lock)
        {
            if (CountOf(method, path) >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((method, path, count, done));
            return done.Task;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, context.RequestAborted);

        // The raw target is what the client put on the wire, escapes included.
        var target = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
        var headers = request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var recorded = new RecordedRequest(request.Method, target, headers, request.ContentType, buffer.ToArray());

        FakeResponse? response;
        lock (_lock)
        {
            _requests.Add(recorded);
            foreach (var waiter in _waiters.Where(w => CountOf(w.Method, w.Path) >= w.Count).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Done.TrySetResult();
            }

            response = _scripts.GetValueOrDefault((recorded.Method.ToUpperInvariant(), recorded.Path))?.Next();
        }

        response ??= DefaultFor(recorded);
        context.Response.StatusCode = response.Status;
        foreach (var (name, value) in response.Headers ?? new Dictionary<string, string>())
        {
            context.Response.Headers[name] = value;
        }

        if (response.Body is not null)
        {
            context.Response.ContentType = response.ContentType;
            await context.Response.Body.WriteAsync(Encoding.UTF8.GetBytes(response.Body), context.RequestAborted);
        }
    }

    // Called with _lock held.
    private int CountOf(string method, string path) =>
        _requests.Count(r => r.Method.Equals(method, StringComparison.OrdinalIgnoreCase) && r.Path == path);

    private static FakeResponse DefaultFor(RecordedRequest request)
    {
        if (request.Path.StartsWith("/v1.0-alpha1/publish/bulk/", StringComparison.Ordinal))
        {
            return FakeResponse.Empty();
        }

        if (!request.Path.StartsWith("/v1.0/", StringComparison.Ordinal))
        {
            return FakeResponse.Empty(StatusCodes.Status404NotFound);
        }

        if (request.Method == "POST" && request.Path.StartsWith("/v1.0/state/", StringComparison.Ordinal) && request.Path.EndsWith("/bulk", StringComparison.Ordinal))
        {
            // One item per key, in request order; a key without "data" is missing.
            using var doc = JsonDocument.Parse(request.Body);
            var keys = doc.RootElement.GetProperty("keys").EnumerateArray().Select(k => new Dictionary<string, string?> { ["key"] = k.GetString() });
            return FakeResponse.Json(JsonSerializer.Serialize(keys));
        }

        if (request.Path.StartsWith("/v1.0/invoke/", StringComparison.Ordinal))
        {
            return FakeResponse.Json("{}");
        }

        return FakeResponse.Empty();
    }

    private sealed class Script(FakeResponse[] responses)
    {
        private int _next;

        public FakeResponse Next() => responses[Math.Min(_next++, responses.Length - 1)];
    }
}

/// <summary>One request the fake sidecar received.</summary>
public sealed record RecordedRequest(string Method, string PathAndQuery, IReadOnlyDictionary<string, string> Headers, string? ContentType, byte[] Body)
{
    public string Path => PathAndQuery.Split('?', 2)[0];

    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>A header's value (several joined by commas), or null when absent.</summary>
    public string? Header(string name) => Headers.GetValueOrDefault(name);
}

/// <summary>A scripted answer of the fake sidecar.</summary>
public sealed record FakeResponse(int Status, string? Body = null, string? ContentType = "application/json", IReadOnlyDictionary<string, string>? Headers = null)
{
    public static FakeResponse Empty(int status = StatusCodes.Status204NoContent) => new(status);

    public static FakeResponse Json(string json, int status = StatusCodes.Status200OK, IReadOnlyDictionary<string, string>? headers = null) =>
        new(status, json, "application/json", headers);

    /// <summary>daprd's error body: <c>{"errorCode":"ERR_…","message":"…"}</c>.</summary>
    public static FakeResponse Error(int status, string errorCode, string message) =>
        Json(JsonSerializer.Serialize(new Dictionary<string, string> { ["errorCode"] = errorCode, ["message"] = message }), status);

    public static FakeResponse Text(string text, int status) => new(status, text, "text/plain; charset=utf-8");
}
