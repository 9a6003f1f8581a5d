using System.ComponentModel.DataAnnotations;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Learning.Metrics;

namespace Mesh.World;

/// <summary>
/// Feeds a running mesh from a <see cref="SyntheticWorld"/> through its public HTTP API: organic events to
/// <c>POST /v1/events</c>, rank requests to <c>POST /v1/rank</c>, and, for served ads the world's click model says were
/// clicked, <c>POST /v1/feedback</c> once the clock passes the click's due time. Simulated "now" is the
/// <see cref="TimeProvider"/>'s. All randomness is drawn before any HTTP call, in request order, and responses are
/// processed in request order, so for a given seed and mesh behaviour the outcome does not depend on HTTP timing.
/// Steps must not overlap.
/// </summary>
public sealed class SyntheticDriver
{
    public const string EventsPath = "v1/events";
    public const string RankPath = "v1/rank";
    public const string FeedbackPath = "v1/feedback";

    /// <summary>Real-time step of <see cref="RunAsync"/>.</summary>
    public static readonly TimeSpan RunInterval = TimeSpan.FromMilliseconds(100);

    private readonly HttpClient _http;
    private readonly TimeProvider _clock;
    private readonly DriverOptions _options;
    private readonly TrafficStream _traffic;
    private readonly Random _random; // click draws and click delays

    private readonly Lock _statsLock = new();
    private readonly PriorityQueue<FeedbackRequest, (long DueTicks, long Sequence)> _pending = new();
    private readonly BinaryMetrics _servedNe = new();
    private readonly BinaryMetrics _optimalNe = new();
    private readonly Queue<NeMark> _marks = new(); // the totals at the end of each step in the recent window, oldest first
    private long _feedbackSequence;
    private long _requestsSent;
    private long _requestsFailed;
    private long _eventsSent;
    private long _eventsFailed;
    private long _clicks;
    private long _feedbackSent;
    private long _feedbackFailed;

    private int _stepping;
    private double _owedRequests; // fractional request carried from one step to the next, so the long-run rate is exact
    private DateTimeOffset _lastRequestAt = DateTimeOffset.MinValue;

    /// <summary>Drives <paramref name="http"/>, whose <see cref="HttpClient.BaseAddress"/> is the mesh's public API (the router).</summary>
    public SyntheticDriver(SyntheticWorld world, HttpClient http, TimeProvider clock, DriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(world);
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        if (options.K > options.CandidatesPerRequest)
        {
            throw new ArgumentException("K cannot exceed CandidatesPerRequest.", nameof(options));
        }

        if (http.BaseAddress is null)
        {
            throw new ArgumentException("The HttpClient needs a BaseAddress: the mesh's public API.", nameof(http));
        }

        _http = http;
        _clock = clock;
        _options = options;
        _traffic = world.CreateTraffic(new TrafficOptions
        {
            Seed = options.Seed,
            RequestsPerSecond = options.RequestsPerSecond,
            CandidatesPerRequest = options.CandidatesPerRequest,
        });
        _random = new Random(Seeds.Derive(world.Options.Seed, Seeds.Driver, options.Seed));
        _marks.Enqueue(new NeMark(clock.GetUtcNow(), default, default));
    }

    /// <summary>A consistent snapshot of the running totals; safe to read from any thread.</summary>
    public DriverStats Stats
    {
        get
        {
            lock (_statsLock)
            {
                var served = Ne.Of(_servedNe);
                var optimal = Ne.Of(_optimalNe);
                var windowStart = _marks.Peek();
                return new DriverStats
                {
                    RequestsSent = _requestsSent,
                    RequestsFailed = _requestsFailed,
                    EventsSent = _eventsSent,
                    EventsFailed = _eventsFailed,
                    Impressions = served.Count,
                    Clicks = _clicks,
                    FeedbackSent = _feedbackSent,
                    FeedbackFailed = _feedbackFailed,
                    FeedbackPending = _pending.Count,
                    ServedNe = served,
                    BaseRateNe = Ne.BaseRate(served.Count, served.Positives),
                    OptimalNe = optimal,
                    RecentServedNe = served - windowStart.Served,
                    RecentOptimalNe = optimal - windowStart.Optimal,
                };
            }
        }
    }

    /// <summary>
    /// Simulates the interval (now - <paramref name="elapsed"/>, now] at <see cref="DriverOptions.RequestsPerSecond"/>
    /// (evenly spaced; a fractional request is carried to the next step), then posts the feedback that is due by now.
    /// A zero <paramref name="elapsed"/> only flushes due feedback.
    /// </summary>
    public async Task<DriverStepReport> StepAsync(TimeSpan elapsed, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(elapsed, TimeSpan.Zero);
        if (Interlocked.Exchange(ref _stepping, 1) == 1)
        {
            throw new InvalidOperationException("Steps of one driver must not overlap.");
        }

        try
        {
            var now = _clock.GetUtcNow();
            var plans = Plan(now, elapsed);
            await ForEachAsync(plans, SendAsync, cancellationToken);

            var impressions = 0;
            var clicks = 0;
            foreach (var plan in plans)
            {
                var (served, clicked) = Record(plan);
                impressions += served;
                clicks += clicked;
            }

            Mark(now);
            var (feedbackSent, pending) = await FlushFeedbackAsync(now, cancellationToken);
            return new DriverStepReport
            {
                From = now - elapsed,
                To = now,
                Requests = plans.Length,
                RequestsFailed = plans.Count(p => p.Response?.Items is null),
                Events = plans.Sum(p => p.Request.Events.Count),
                Impressions = impressions,
                Clicks = clicks,
                FeedbackSent = feedbackSent,
                FeedbackPending = pending,
            };
        }
        finally
        {
            Volatile.Write(ref _stepping, 0);
        }
    }

    /// <summary>
    /// Steps every <see cref="RunInterval"/> of the clock, each step covering the time since the previous one (at most
    /// <see cref="DriverOptions.MaxStep"/>), until <paramref name="cancellationToken"/> is cancelled; then returns.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var last = _clock.GetUtcNow();
        try
        {
            while (true)
            {
                await Task.Delay(RunInterval, _clock, cancellationToken);
                var now = _clock.GetUtcNow();
                var elapsed = now - last;
                last = now;
                await StepAsync(elapsed > _options.MaxStep ? _options.MaxStep : elapsed, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Draws every request of the step and all of its randomness, in order, before any HTTP call.</summary>
    private RequestPlan[] Plan(DateTimeOffset now, TimeSpan elapsed)
    {
        _owedRequests += elapsed.TotalSeconds * _options.RequestsPerSecond;
        var count = (int)Math.Floor(_owedRequests);
        _owedRequests -= count;

        var plans = new RequestPlan[count];
        for (var i = 0; i < count; i++)
        {
            var at = now - elapsed + (elapsed * ((i + 1.0) / count));
            _lastRequestAt = at > _lastRequestAt ? at : _lastRequestAt; // the world only moves forward
            var request = _traffic.Next(_lastRequestAt);

            // One uniform and one delay per candidate, whatever the mesh later serves: the click of a (request, ad) is
            // fixed in advance, so two meshes driven with one seed face the same users (common random numbers).
            var uniforms = new double[request.Candidates.Count];
            var delays = new TimeSpan[request.Candidates.Count];
            for (var j = 0; j < uniforms.Length; j++)
            {
                uniforms[j] = _random.NextDouble();
                delays[j] = TimeSpan.FromTicks((long)_random.NextExponential(_options.MeanClickDelay.Ticks));
            }

            plans[i] = new RequestPlan(request, uniforms, delays);
        }

        return plans;
    }

    private async ValueTask SendAsync(RequestPlan plan, CancellationToken cancellationToken)
    {
        foreach (var userEvent in plan.Request.Events)
        {
            if (!await PostAsync(EventsPath, userEvent, cancellationToken))
            {
                plan.EventsFailed++;
            }
        }

        try
        {
            using var response = await _http.PostAsJsonAsync(RankPath, plan.Request.ToRankRequest(_options.K), MeshJson.Options, cancellationToken);
            if (response.IsSuccessStatusCode)
            {
                plan.Response = await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options, cancellationToken);
            }
        }
        catch (Exception e) when (IsFailedCall(e, cancellationToken))
        {
            plan.Response = null;
        }
    }

    /// <summary>Turns a plan's response into impressions, labels and scheduled feedback; returns (impressions, clicks).</summary>
    private (int Impressions, int Clicks) Record(RequestPlan plan)
    {
        var request = plan.Request;
        lock (_statsLock)
        {
            _requestsSent++;
            _eventsSent += request.Events.Count;
            _eventsFailed += plan.EventsFailed;
            if (plan.Response?.Items is not { } items)
            {
                _requestsFailed++;
                return (0, 0);
            }

            var impressions = 0;
            var clicks = 0;
            foreach (var item in items)
            {
                var j = IndexOf(request.Candidates, item.AdId);
                if (j < 0)
                {
                    continue; // not one of ours: nothing to label it with
                }

                var p = request.ClickProbabilities[j];
                var clicked = plan.Uniforms[j] < p;
                _servedNe.Add((float)item.Score, clicked ? 1f : 0f);
                _optimalNe.Add((float)p, clicked ? 1f : 0f);
                impressions++;
                if (clicked)
                {
                    clicks++;
                    _clicks++;
                    var due = request.At + plan.ClickDelays[j];
                    var feedback = new FeedbackRequest
                    {
                        ImpressionId = item.ImpressionId,
                        UserId = request.UserId,
                        AdId = item.AdId,
                        OccurredAt = due,
                    };
                    _pending.Enqueue(feedback, (due.UtcTicks, _feedbackSequence++));
                }
            }

            return (impressions, clicks);
        }
    }

    /// <summary>
    /// Notes the totals at the end of a step and forgets the marks older than needed: the oldest kept is the last one at
    /// or before the start of the recent window, so the recent figures cover the window (to the step) and no more.
    /// </summary>
    private void Mark(DateTimeOffset now)
    {
        lock (_statsLock)
        {
            _marks.Enqueue(new NeMark(now, Ne.Of(_servedNe), Ne.Of(_optimalNe)));
            var windowStart = now - _options.RecentWindow;
            while (_marks.Count > 1 && _marks.ElementAt(1).At <= windowStart)
            {
                _marks.Dequeue();
            }
        }
    }

    /// <summary>Posts every click due by <paramref name="now"/>, oldest first; returns (sent, still pending).</summary>
    private async Task<(int Sent, int Pending)> FlushFeedbackAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var due = new List<FeedbackRequest>();
        lock (_statsLock)
        {
            while (_pending.TryPeek(out var feedback, out var key) && key.DueTicks <= now.UtcTicks)
            {
                _pending.Dequeue();
                due.Add(feedback);
            }
        }

        var failed = 0;
        await ForEachAsync(due, async (feedback, ct) =>
        {
            if (!await PostAsync(FeedbackPath, feedback, ct))
            {
                Interlocked.Increment(ref failed);
            }
        }, cancellationToken);

        lock (_statsLock)
        {
            _feedbackSent += due.Count;
            _feedbackFailed += failed;
            return (due.Count, _pending.Count);
        }
    }

    private async Task<bool> PostAsync<T>(string path, T body, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await _http.PostAsJsonAsync(path, body, MeshJson.Options, cancellationToken);
            return response.IsSuccessStatusCode;
        }
        catch (Exception e) when (IsFailedCall(e, cancellationToken))
        {
            return false;
        }
    }

    private Task ForEachAsync<T>(IReadOnlyList<T> items, Func<T, CancellationToken, ValueTask> body, CancellationToken cancellationToken) =>
        items.Count == 0
            ? Task.CompletedTask
            : Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = _options.MaxConcurrency, CancellationToken = cancellationToken }, body);

    /// <summary>A call the mesh failed (unreachable, timed out, unreadable body), as opposed to our own cancellation.</summary>
    private static bool IsFailedCall(Exception e, CancellationToken cancellationToken) =>
        e is HttpRequestException or JsonException or NotSupportedException
        || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private static int IndexOf(IReadOnlyList<Candidate> candidates, string adId)
    {
        for (var j = 0; j < candidates.Count; j++)
        {
            if (string.Equals(candidates[j].AdId, adId, StringComparison.Ordinal))
            {
                return j;
            }
        }

        return -1;
    }

    private sealed class RequestPlan(SyntheticRequest request, double[] uniforms, TimeSpan[] clickDelays)
    {
        public SyntheticRequest Request { get; } = request;

        /// <summary>(candidates): the candidate is clicked if served and its uniform is below its true probability.</summary>
        public double[] Uniforms { get; } = uniforms;

        /// <summary>(candidates): time from the request to the click, if there is one.</summary>
        public TimeSpan[] ClickDelays { get; } = clickDelays;

        public int EventsFailed { get; set; }

        /// <summary>Null when the rank call failed.</summary>
        public RankResponse? Response { get; set; }
    }

    /// <summary>The served and optimal totals at the end of the step at <see cref="At"/>.</summary>
    private readonly record struct NeMark(DateTimeOffset At, Ne Served, Ne Optimal);
}
