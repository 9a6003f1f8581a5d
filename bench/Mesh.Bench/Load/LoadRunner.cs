using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Mesh.Contracts;

namespace Mesh.Bench.Load;

/// <summary>
/// A closed loop: each of N workers keeps one request in flight on its own keep-alive connection, sending the pool's
/// bodies in turn, until the deadline. Latency is client-observed (request written to reply read in full); the reply
/// is then parsed outside the timed span to check its shape and tally tiers.
/// </summary>
public static class LoadRunner
{
    // A safety bound on each worker's loop besides the deadline: ~1 ms requests for 120 s stay well under it.
    private const int MaxRequestsPerWorker = 2_000_000;

    /// <summary>A client whose pool holds exactly <paramref name="concurrency"/> connections to the host.</summary>
    public static HttpClient CreateClient(Uri baseAddress, int concurrency) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = concurrency,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        UseProxy = false,
        UseCookies = false,
    })
    {
        BaseAddress = baseAddress,
        // A stuck request ends as an error after this, so a phase overruns its duration by at most this much.
        Timeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>Runs <paramref name="path"/> for <paramref name="duration"/>; latencies are kept only when <paramref name="record"/>.</summary>
    public static async Task<PhaseResult> RunAsync(
        HttpClient client, string path, RequestPool pool, int concurrency, TimeSpan duration, bool record, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, concurrency)
            .Select(w => Task.Run(() => WorkAsync(client, path, pool, w * pool.Bodies.Count / concurrency, deadline, record, cancellationToken), cancellationToken))
            .ToArray();
        var results = await Task.WhenAll(workers);
        var elapsed = Stopwatch.GetElapsedTime(started);
        return PhaseResult.Merge(path, pool.Candidates, elapsed, results);
    }

    /// <summary>One request, checked: 2xx and a <see cref="RankResponse"/> with k items. Returns null, or what was wrong.</summary>
    public static async Task<string?> CheckAsync(HttpClient client, string path, RequestPool pool, CancellationToken cancellationToken)
    {
        using var response = await client.PostAsync(path, Json(pool.Bodies[0]), cancellationToken);
        var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            var text = System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 600));
            return $"POST {path} answered {(int)response.StatusCode}: {text}";
        }

        return Parse(bytes, ExpectedItems(pool)) is null ? $"POST {path} answered a body that is not a RankResponse with {ExpectedItems(pool)} items." : null;
    }

    private static async Task<WorkerResult> WorkAsync(
        HttpClient client, string path, RequestPool pool, int first, long deadline, bool record, CancellationToken cancellationToken)
    {
        var result = new WorkerResult();
        var expected = ExpectedItems(pool);
        for (var n = 0; n < MaxRequestsPerWorker && Stopwatch.GetTimestamp() < deadline; n++)
        {
            var body = pool.Bodies[(first + n) % pool.Bodies.Count];
            var sent = Stopwatch.GetTimestamp();
            byte[] reply;
            int status;
            try
            {
                using var response = await client.PostAsync(path, Json(body), cancellationToken);
                reply = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                status = (int)response.StatusCode;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                result.Error(e.GetType().Name + ": " + e.Message);
                continue;
            }

            var ticks = Stopwatch.GetTimestamp() - sent;
            if (status is < 200 or > 299)
            {
                result.Error($"HTTP {status}");
                continue;
            }

            var parsed = Parse(reply, expected);
            if (parsed is null)
            {
                result.Error("reply is not a RankResponse with k items");
                continue;
            }

            result.Success(record ? ticks : -1, parsed);
        }

        return result;
    }

    /// <summary>A request body of UTF-8 JSON bytes, sent as <c>application/json</c>.</summary>
    public static ByteArrayContent Json(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private static int ExpectedItems(RequestPool pool) => Math.Min(RequestPool.K, pool.Candidates);

    private static RankResponse? Parse(byte[] reply, int expectedItems)
    {
        try
        {
            var response = MeshJson.Deserialize<RankResponse>(reply);
            return response.Items.Count == expectedItems ? response : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>What one worker saw; not shared between threads.</summary>
public sealed class WorkerResult
{
    public List<long> LatencyTicks { get; } = [];
    public Dictionary<string, long> Tiers { get; } = new(StringComparer.Ordinal);
    public long Successes { get; private set; }
    public long Errors { get; private set; }
    public string? FirstError { get; private set; }

    /// <summary>Sums of the server-reported timings of successful replies, in ms.</summary>
    public double EmbeddingMs { get; private set; }

    public double RankMs { get; private set; }
    public double TotalMs { get; private set; }
    public long PrecomputedHits { get; private set; }
    public long MinModelVersion { get; private set; } = long.MaxValue;
    public long MaxModelVersion { get; private set; } = long.MinValue;

    public void Success(long latencyTicks, RankResponse response)
    {
        Successes++;
        if (latencyTicks >= 0)
        {
            LatencyTicks.Add(latencyTicks);
        }

        Tiers[response.Tier] = Tiers.GetValueOrDefault(response.Tier) + 1;
        EmbeddingMs += response.Timings.EmbeddingMs;
        RankMs += response.Timings.RankMs;
        TotalMs += response.Timings.TotalMs;
        PrecomputedHits += response.PrecomputedHits;
        MinModelVersion = Math.Min(MinModelVersion, response.ModelVersion);
        MaxModelVersion = Math.Max(MaxModelVersion, response.ModelVersion);
    }

    public void Error(string what)
    {
        Errors++;
        FirstError ??= what;
    }
}
