using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Bench.Load;
using Mesh.Contracts;

namespace Mesh.Bench.Replay;

/// <summary>How negatives reach the mesh.</summary>
public enum NegativeFeedback
{
    /// <summary><c>POST /v1/feedback</c> with kind <c>noClick</c> for every impression not clicked: the log knows its negatives.</summary>
    Explicit,

    /// <summary>Clicks only; the trainer's label window closes the rest as negatives (a mesh without explicit negatives).</summary>
    Window,
}

/// <summary>How to replay.</summary>
/// <param name="Speed">Impressions per second of wall time to pace at; null: as fast as the mesh answers.</param>
/// <param name="Negatives">How impressions not clicked are told to the mesh.</param>
/// <param name="KeepUp">The keep-up gate (<see cref="KeepUpGate"/>); null: none, the replay runs as fast as the mesh answers.</param>
/// <param name="UserEvents">
/// Also tell the user model each click (<c>POST /v1/events</c>, kind <c>engage</c>, at the impression's event time), as
/// a platform's own click stream would; off, the user tower sees no history and every user looks new. Off by default:
/// on the realistic synthetic log (about half a click per user) it cost the mesh 0.010 NE over the last 20%
/// (docs/benchmarks.md, "User events in the replay").
/// </param>
public sealed record ReplaySettings(double? Speed = null, NegativeFeedback Negatives = NegativeFeedback.Explicit, KeepUpSettings? KeepUp = null, bool UserEvents = false);

/// <summary>What a replay measured: per impression in replay order, the label and each model's prediction.</summary>
/// <param name="Labels">1 for a click, per impression in replay order.</param>
/// <param name="Predictions">By model name (<see cref="ReplayRunner.Mesh"/> first, then the baselines, then <see cref="ReplayRunner.Planted"/> where the log has it): one prediction per impression; NaN where the mesh gave none.</param>
/// <param name="Requests">Requests replayed.</param>
/// <param name="RankCalls">Rank calls made (a request of more than 100 candidates, or with an item twice, takes several).</param>
/// <param name="RankErrors">Rank requests that failed (non-2xx, transport error, malformed reply); their impressions have no mesh prediction.</param>
/// <param name="MissingScores">Impressions the mesh's replies left out (including those of failed requests).</param>
/// <param name="FeedbackPosts">Feedback posts made.</param>
/// <param name="FeedbackErrors">Feedback posts that failed.</param>
/// <param name="EventPosts">User-event posts made (one per click, with <see cref="ReplaySettings.UserEvents"/>).</param>
/// <param name="EventErrors">User-event posts that failed.</param>
/// <param name="FirstErrors">The first few error messages, in order.</param>
/// <param name="ModelVersions">Model versions of the rank replies, lowest and highest; (-1, -1) without a reply.</param>
/// <param name="Elapsed">Wall time of the replay, the keep-up gate's waits included.</param>
/// <param name="KeepUpWait">Wall time the keep-up gate held the replay back (zero without the gate).</param>
/// <param name="KeepUpWaits">Times the keep-up gate held the replay back.</param>
/// <param name="StatsReads">Reads of <c>/v1/stats</c> by the keep-up gate.</param>
public sealed record ReplayResult(
    float[] Labels, IReadOnlyDictionary<string, float[]> Predictions, int Requests, int RankCalls, long RankErrors, long MissingScores,
    long FeedbackPosts, long FeedbackErrors, long EventPosts, long EventErrors, IReadOnlyList<string> FirstErrors, (long Min, long Max) ModelVersions, TimeSpan Elapsed,
    TimeSpan KeepUpWait, int KeepUpWaits, int StatsReads);

/// <summary>
/// Replays requests in order through <c>POST /v1/rank</c> and <c>POST /v1/feedback</c>, one request at a time, with
/// the baselines predicting each impression beside the mesh (progressive validation: every model, the mesh included,
/// predicts an impression before its label is sent or learnt). A request with more than <see cref="RankRequest.MaxK"/>
/// candidates, or with the same item twice, goes as several rank calls. Errors are counted, never dropped silently.
/// With <see cref="ReplaySettings.KeepUp"/>, each request first waits for the trainer (<see cref="KeepUpGate"/>).
/// </summary>
/// <param name="client">The host's API.</param>
/// <param name="clock">Pacing, elapsed time and the keep-up gate's stall timeout.</param>
/// <param name="wait">The keep-up gate's delay between two reads of <c>/v1/stats</c>; default <see cref="Task.Delay(TimeSpan, TimeProvider, CancellationToken)"/> on <paramref name="clock"/>. Tests advance a fake clock here.</param>
public sealed class ReplayRunner(HttpClient client, TimeProvider clock, Func<TimeSpan, CancellationToken, Task>? wait = null)
{
    public const string Mesh = "mesh";
    public const string Planted = "planted";
    private const int KeptErrors = 5;

    private readonly List<string> _errors = [];
    private long _rankErrors;
    private long _feedbackErrors;
    private long _eventErrors;

    public async Task<ReplayResult> RunAsync(
        IReadOnlyList<ReplayRequest> requests, IReadOnlyList<IOnlinePredictor> baselines, ReplaySettings settings, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(baselines);
        ArgumentNullException.ThrowIfNull(settings);
        var total = requests.Sum(r => r.Items.Count);
        var hasTruth = requests.Count > 0 && requests.All(r => r.Items.All(i => i.Truth is not null));
        var labels = new float[total];
        var predictions = new Dictionary<string, float[]> { [Mesh] = new float[total] };
        foreach (var b in baselines)
        {
            predictions[b.Name] = new float[total];
        }

        if (hasTruth)
        {
            predictions[Planted] = new float[total];
        }

        var (minVersion, maxVersion) = (long.MaxValue, long.MinValue);
        long missing = 0, feedbackPosts = 0, eventPosts = 0;
        var rankCalls = 0;
        var gate = settings.KeepUp is { } keepUp
            ? new KeepUpGate(client, clock, wait ?? ((delay, token) => Task.Delay(delay, clock, token)), keepUp, settings.Negatives)
            : null;
        var started = clock.GetTimestamp();
        var at = 0;
        foreach (var request in requests)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (settings.Speed is { } speed)
            {
                var due = TimeSpan.FromSeconds(at / speed) - clock.GetElapsedTime(started);
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, clock, cancellationToken);
                }
            }

            if (gate is not null)
            {
                await gate.BeforeAsync(request.Time, request.Items.Count, cancellationToken);
            }

            for (var j = 0; j < request.Items.Count; j++)
            {
                var item = request.Items[j];
                labels[at + j] = item.Click ? 1f : 0f;
                foreach (var b in baselines)
                {
                    predictions[b.Name][at + j] = (float)b.Predict(request, item);
                }

                if (hasTruth)
                {
                    predictions[Planted][at + j] = (float)item.Truth!.Value;
                }
            }

            // The mesh's turn: scores first, then every label of the request.
            var served = new (double Score, string? ImpressionId)[request.Items.Count];
            Array.Fill(served, (double.NaN, null));
            foreach (var chunk in Chunks(request.Items.Count, j => request.Items[j].ItemId))
            {
                rankCalls++;
                if (await RankAsync(request, chunk, cancellationToken) is { } reply)
                {
                    (minVersion, maxVersion) = (Math.Min(minVersion, reply.ModelVersion), Math.Max(maxVersion, reply.ModelVersion));
                    var byAd = reply.Items.ToDictionary(a => a.AdId, StringComparer.Ordinal);
                    foreach (var j in chunk)
                    {
                        if (byAd.TryGetValue(request.Items[j].ItemId, out var ad))
                        {
                            served[j] = (ad.Score, ad.ImpressionId);
                        }
                    }
                }
            }

            var feedback = new List<Task>();
            for (var j = 0; j < request.Items.Count; j++)
            {
                var item = request.Items[j];
                predictions[Mesh][at + j] = (float)served[j].Score;

                // The log's click happened whether or not the mesh served it: the user's history has it either way.
                if (item.Click && settings.UserEvents)
                {
                    eventPosts++;
                    feedback.Add(UserEventAsync(new UserEventRequest
                    {
                        UserId = request.UserId,
                        Kind = UserActionKind.Engage,
                        ItemId = item.ItemId,
                        Category = item.Category,
                        OccurredAt = item.Time,
                    }, cancellationToken));
                }

                if (served[j].ImpressionId is not { } impressionId)
                {
                    missing++;
                    continue;
                }

                if (item.Click || settings.Negatives == NegativeFeedback.Explicit)
                {
                    feedbackPosts++;
                    feedback.Add(FeedbackAsync(new FeedbackRequest
                    {
                        ImpressionId = impressionId,
                        UserId = request.UserId,
                        AdId = item.ItemId,
                        Kind = item.Click ? FeedbackKind.Click : FeedbackKind.NoClick,
                        OccurredAt = item.Time,
                    }, cancellationToken));
                }
            }

            await Task.WhenAll(feedback);
            gate?.Sent(request.Time, served.Count(s => s.ImpressionId is not null));
            foreach (var item in request.Items)
            {
                foreach (var b in baselines)
                {
                    b.Learn(request, item);
                }
            }

            at += request.Items.Count;
            progress?.Report(at);
        }

        var versions = minVersion == long.MaxValue ? (-1L, -1L) : (minVersion, maxVersion);
        return new ReplayResult(
            labels, predictions, requests.Count, rankCalls, Interlocked.Read(ref _rankErrors), missing, feedbackPosts, Interlocked.Read(ref _feedbackErrors),
            eventPosts, Interlocked.Read(ref _eventErrors),
            [.. _errors], versions, clock.GetElapsedTime(started), gate?.Waited ?? TimeSpan.Zero, gate?.Waits ?? 0, gate?.Reads ?? 0);
    }

    /// <summary>
    /// Splits item positions 0..<paramref name="count"/>-1 into calls of at most <see cref="RankRequest.MaxK"/> items
    /// with no item id twice (the router refuses duplicate adIds), keeping order within each call.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<int>> Chunks(int count, Func<int, string> id)
    {
        ArgumentNullException.ThrowIfNull(id);
        var chunks = new List<(List<int> Items, HashSet<string> Ids)>();
        for (var j = 0; j < count; j++)
        {
            var key = id(j);
            var chunk = chunks.FirstOrDefault(c => c.Items.Count < RankRequest.MaxK && !c.Ids.Contains(key));
            if (chunk.Items is null)
            {
                chunk = ([], new HashSet<string>(StringComparer.Ordinal));
                chunks.Add(chunk);
            }

            chunk.Items.Add(j);
            chunk.Ids.Add(key);
        }

        return [.. chunks.Select(c => (IReadOnlyList<int>)c.Items)];
    }

    private async Task<RankResponse?> RankAsync(ReplayRequest request, IReadOnlyList<int> chunk, CancellationToken cancellationToken)
    {
        var body = new RankRequest
        {
            UserId = request.UserId,
            OccurredAt = request.Time,
            Context = new RankContext
            {
                Hour = request.Time.UtcDateTime.Hour,
                Features = request.Context.Count == 0 ? null : request.Context.ToDictionary(f => f.Key, f => f.Value.ToJson(), StringComparer.Ordinal),
            },
            Candidates = [.. chunk.Select(j => request.Items[j]).Select(i => new Candidate
            {
                AdId = i.ItemId,
                Category = i.Category,
                Features = i.Candidate.Count == 0 ? null : i.Candidate.ToDictionary(f => f.Key, f => f.Value.ToJson(), StringComparer.Ordinal),
            })],
            K = chunk.Count,
            // Every candidate's own score, not one cut short by early exit against the k-th best.
            ExitThreshold = 0,
        };
        try
        {
            using var response = await client.PostAsync(LoadBenchmark.RankPath, LoadRunner.Json(MeshJson.Serialize(body)), cancellationToken);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                Fail(ref _rankErrors, $"request {request.Index} (log line {request.Items[chunk[0]].Line}): POST /v1/rank answered {(int)response.StatusCode}: {Snippet(bytes)}");
                return null;
            }

            return MeshJson.Deserialize<RankResponse>(bytes);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            Fail(ref _rankErrors, $"request {request.Index}: POST /v1/rank failed: {e.Message}");
            return null;
        }
    }

    private Task FeedbackAsync(FeedbackRequest body, CancellationToken cancellationToken) =>
        PostAsync("/v1/feedback", body, $"{body.Kind} for {body.ImpressionId}", message => Fail(ref _feedbackErrors, message), cancellationToken);

    private Task UserEventAsync(UserEventRequest body, CancellationToken cancellationToken) =>
        PostAsync("/v1/events", body, $"{body.Kind} of {body.UserId} on {body.ItemId}", message => Fail(ref _eventErrors, message), cancellationToken);

    /// <summary>Posts an ingestion request; a failure goes to <paramref name="fail"/>, which counts it.</summary>
    private async Task PostAsync<T>(string path, T body, string what, Action<string> fail, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await client.PostAsJsonAsync(path, body, MeshJson.Options, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                fail($"POST {path} ({what}) answered {(int)response.StatusCode}: {Snippet(bytes)}");
            }
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            fail($"POST {path} failed: {e.Message}");
        }
    }

    private void Fail(ref long counter, string message)
    {
        Interlocked.Increment(ref counter);
        lock (_errors)
        {
            if (_errors.Count < KeptErrors)
            {
                _errors.Add(message);
            }
        }
    }

    private static string Snippet(byte[] bytes) => System.Text.Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, 300));
}
