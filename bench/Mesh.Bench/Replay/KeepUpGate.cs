using System.Globalization;
using System.Text.Json;

namespace Mesh.Bench.Replay;

/// <summary>How the replay keeps pace with the mesh's trainer (see <see cref="KeepUpGate"/>).</summary>
/// <param name="Bound">Most impressions the replay may have sent, and the trainer could have taken in, beyond what it has taken in. At least 1.</param>
/// <param name="LabelWindow">
/// The host's <c>Trainer:LabelWindow</c> (event time). With <see cref="NegativeFeedback.Window"/> an impression becomes
/// something the trainer can take in only once the replay's newest event time has passed its own by this much.
/// </param>
public sealed record KeepUpSettings(int Bound, TimeSpan LabelWindow)
{
    /// <summary>The bound when the command line does not say. About 1.7 s of training at ~600 impressions/s on a 2-core machine.</summary>
    public const int DefaultBound = 1_000;

    /// <summary><c>TrainerOptions.LabelWindow</c>'s default (Mesh.Bench does not reference the trainer project).</summary>
    public static readonly TimeSpan DefaultLabelWindow = TimeSpan.FromSeconds(10);

    /// <summary>Delay between two reads of <c>/v1/stats</c> while the replay waits. Default 20 ms.</summary>
    public TimeSpan PollDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Impressions sent between two reads of <c>/v1/stats</c> while within the bound, so that a version the trainer
    /// published is seen and waited for (<c>ranker.lag.versions</c>) even when training keeps up. Default 100.
    /// </summary>
    public int CheckEvery { get; init; } = 100;

    /// <summary>How long the trainer may take in nothing while the replay waits before the replay stops with an error. Default 60 s.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Holds the replay back while it is more than <see cref="KeepUpSettings.Bound"/> impressions ahead of the trainer, so
/// that what the mesh serves depends on the log's order and not on how fast the replay sends it (the trainer trains
/// asynchronously; a replay faster than training would leave labels queued, the more the faster).
/// </summary>
/// <remarks>
/// <para>
/// The trainer's progress is read from <c>GET /v1/stats</c> as <c>trainer.trainedExamples + trainer.untrainedExamples
/// + trainer.shedExamples</c>: examples trained on, counted untrained (training off), or shed by an overloaded trainer:
/// every way a labelled impression leaves the trainer's queue. A missing field counts 0 (a host need not report shedding);
/// a reply with none of the three is an error, since such a host cannot be kept up with. Not <c>labelledImpressions</c>
/// or <c>trainer.pendingLabels</c>: the trainer collects labels only between training passes, so both include what
/// waits for training, the very queue this gate bounds.
/// </para>
/// <para>
/// What the replay counts as sent is what the trainer could have taken in: impressions the mesh served (an impression
/// id came back), and with <see cref="NegativeFeedback.Window"/> only those whose label window the replay's own newest
/// event time has closed (the rest wait for event time, which only more replay brings; counting them would deadlock).
/// </para>
/// <para>
/// The gate reads <c>/v1/stats</c> only when the last reading's margin does not cover the next request, then every
/// <see cref="KeepUpSettings.PollDelay"/> until it does; a request of more impressions than the bound goes once the
/// trainer has caught up completely. A read that fails counts as no progress. When the trainer takes in nothing for
/// <see cref="KeepUpSettings.StallTimeout"/>, the gate throws a <see cref="TimeoutException"/> that names the figures.
/// </para>
/// </remarks>
public sealed class KeepUpGate(HttpClient client, TimeProvider clock, Func<TimeSpan, CancellationToken, Task> wait, KeepUpSettings settings, NegativeFeedback negatives)
{
    public const string StatsPath = "/v1/stats";

    // Window negatives: requests sent whose label window is still open on the replay's newest event time, oldest first.
    private readonly Queue<(DateTimeOffset Time, int Served)> _open = new();
    private long _sent;
    private long _takeable;
    private Progress _progress;
    private string? _lastReadError;
    private long _checkedAt;

    /// <summary>Wall time (the injected clock) the replay spent held back, polls included.</summary>
    public TimeSpan Waited { get; private set; }

    /// <summary>Times the replay was held back.</summary>
    public int Waits { get; private set; }

    /// <summary>Reads of <c>/v1/stats</c>.</summary>
    public int Reads { get; private set; }

    /// <summary>Waits, if it must, until the trainer has taken in enough to send a request of <paramref name="count"/> impressions at event time <paramref name="time"/>.</summary>
    public async Task BeforeAsync(DateTimeOffset time, int count, CancellationToken cancellationToken)
    {
        // Requests go in event-time order, so once sent this one's time is the newest: windows it closes stay closed.
        while (_open.TryPeek(out var oldest) && oldest.Time + settings.LabelWindow <= time)
        {
            _takeable += _open.Dequeue().Served;
        }

        var caughtUp = _takeable;
        var after = negatives == NegativeFeedback.Explicit ? _takeable + count : _takeable;
        if (after - _progress.Total <= settings.Bound && _takeable - _checkedAt < settings.CheckEvery)
        {
            return;
        }

        _checkedAt = _takeable;

        var started = clock.GetTimestamp();
        var lastAdvance = started;
        var held = false;
        while (true)
        {
            var reading = await ReadAsync(cancellationToken);
            if (reading is { } r && (r.Total > _progress.Total || r.ServingBehind < _progress.ServingBehind))
            {
                (_progress, lastAdvance) = (r, clock.GetTimestamp());
            }

            // Within the bound, and serving the newest version published: a version's loading is waited for too, so
            // that the version a request meets depends on the log, not on how many requests fit into a load.
            if ((after - _progress.Total <= settings.Bound || _progress.Total >= caughtUp) && (reading?.ServingBehind ?? 0) == 0)
            {
                break;
            }

            if (clock.GetElapsedTime(lastAdvance) >= settings.StallTimeout)
            {
                var readError = _lastReadError is null ? "" : $"; last read of {StatsPath}: {_lastReadError}";
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                    $"keep-up: the trainer took in nothing for {settings.StallTimeout.TotalSeconds:F0} s: {_sent} impressions served, {_takeable} of them takeable by the trainer, trainer progress {_progress.Total} (trainedExamples {_progress.Trained} + untrainedExamples {_progress.Untrained} + shedExamples {_progress.Shed}), bound {settings.Bound}, serving {_progress.ServingBehind} published versions behind; the next request has {count} impressions{readError}. Replay with --keep-up 0 to run without the gate."));
            }

            held = true;
            await wait(settings.PollDelay, cancellationToken);
        }

        if (held)
        {
            Waits++;
            Waited += clock.GetElapsedTime(started);
        }
    }

    /// <summary>Counts a sent request: <paramref name="served"/> impressions the mesh served at event time <paramref name="time"/>.</summary>
    public void Sent(DateTimeOffset time, int served)
    {
        _sent += served;
        if (negatives == NegativeFeedback.Explicit)
        {
            _takeable += served;
        }
        else
        {
            _open.Enqueue((time, served));
        }
    }

    private async Task<Progress?> ReadAsync(CancellationToken cancellationToken)
    {
        Reads++;
        JsonElement stats;
        try
        {
            using var response = await client.GetAsync(StatsPath, cancellationToken);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                _lastReadError = $"answered {(int)response.StatusCode}";
                return null;
            }

            stats = JsonSerializer.Deserialize<JsonElement>(bytes);
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            _lastReadError = e.Message;
            return null;
        }

        var (trained, untrained, shed) = (Field(stats, "trainedExamples"), Field(stats, "untrainedExamples"), Field(stats, "shedExamples"));
        if (trained is null && untrained is null && shed is null)
        {
            throw new InvalidOperationException(
                $"keep-up: {StatsPath} reports none of trainer.trainedExamples, trainer.untrainedExamples, trainer.shedExamples; replay with --keep-up 0 to run without the gate.");
        }

        _lastReadError = null;
        return new Progress(trained ?? 0, untrained ?? 0, shed ?? 0, ServingBehind(stats));
    }

    /// <summary><c>trainer.<paramref name="name"/></c> as a whole number; null where missing or not a number.</summary>
    private static long? Field(JsonElement stats, string name) => StatsJson.Long(stats, "trainer", name);

    /// <summary><c>ranker.lag.versions</c>: versions published that the ranker does not serve yet; 0 where not reported.</summary>
    private static long ServingBehind(JsonElement stats) => StatsJson.Long(stats, "ranker", "lag", "versions") ?? 0;

    private readonly record struct Progress(long Trained, long Untrained, long Shed, long ServingBehind)
    {
        public long Total => Trained + Untrained + Shed;
    }
}
