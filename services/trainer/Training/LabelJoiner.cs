using Mesh.Contracts;
using Mesh.Models.Features;
using Microsoft.Extensions.Options;

namespace Mesh.Trainer.Training;

/// <summary>
/// Joins served impressions with their feedback by impression id, on event time. A <see cref="FeedbackKind.Click"/> or
/// <see cref="FeedbackKind.Conversion"/> labels its impression 1 at once, a <see cref="FeedbackKind.NoClick"/> 0 at once;
/// an impression with neither is a negative when its label window closes. The impressions of one request become one
/// labelled request as soon as all of them are decided, or when its window closes, whichever first.
/// </summary>
/// <remarks>
/// <para>
/// The window runs on event time: the joiner keeps a watermark, the newest <c>occurredAt</c> seen on impressions
/// (<see cref="ImpressionsServed.OccurredAt"/>, <see cref="ImpressionsServed.ServedAt"/> from schema-2 writers) and on
/// feedback, and a request's window closes once the watermark reaches its event time plus
/// <see cref="TrainerOptions.LabelWindow"/>. A replayed log therefore labels the same way at any replay speed.
/// </para>
/// <para>
/// Idle flush: so that live traffic still closes its last windows when traffic stops, the watermark also advances by
/// the wall-clock time (the injected <see cref="TimeProvider"/>) that passed since the last event arrived, once that
/// silence has lasted a whole <see cref="TrainerOptions.LabelWindow"/>. A replay that never pauses that long never
/// idles, so its result does not depend on its speed; live traffic's last impressions close one window after the last
/// event, as a wall-clock window would close them.
/// </para>
/// <para>
/// Feedback may arrive before its impression (two topics, no order between them): it waits for its impression until
/// the watermark passes its own time plus a window, and is then counted late, as is feedback for an impression whose
/// request was already labelled. Late feedback is never trained on.
/// </para>
/// </remarks>
public sealed class LabelJoiner(IOptions<TrainerOptions> options, TimeProvider clock)
{
    private readonly Dictionary<string, (PendingRequest Request, int Item)> _pending = new(StringComparer.Ordinal);
    private readonly List<PendingRequest> _requests = [];
    private readonly Dictionary<string, (FeedbackKind Kind, DateTimeOffset At)> _early = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private DateTimeOffset _watermark = DateTimeOffset.MinValue;
    private DateTimeOffset _lastArrival = clock.GetUtcNow();
    private long _lateFeedback;
    private long _explicitNegatives;
    private long _conversions;

    /// <summary>Feedback that came after its impression's request had been labelled, or never found it (counted, not trained on).</summary>
    public long LateClicks => Interlocked.Read(ref _lateFeedback);

    /// <summary>Impressions labelled 0 by an explicit <see cref="FeedbackKind.NoClick"/>.</summary>
    public long ExplicitNegatives => Interlocked.Read(ref _explicitNegatives);

    /// <summary>Impressions labelled 1 by a <see cref="FeedbackKind.Conversion"/>.</summary>
    public long Conversions => Interlocked.Read(ref _conversions);

    /// <summary>Impressions waiting for their label.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>The newest event time seen (without the idle flush); <see cref="DateTimeOffset.MinValue"/> before any event.</summary>
    public DateTimeOffset Watermark
    {
        get
        {
            lock (_lock)
            {
                return _watermark;
            }
        }
    }

    public void AddImpressions(ImpressionsServed served)
    {
        ArgumentNullException.ThrowIfNull(served);
        lock (_lock)
        {
            var occurredAt = EventTime(served);
            Arrived(occurredAt);
            var items = served.Items.Where(i => !_pending.ContainsKey(i.ImpressionId)).DistinctBy(i => i.ImpressionId).ToList(); // redelivery
            if (items.Count == 0)
            {
                return;
            }

            var request = new PendingRequest(ToInput(served, items), [.. items.Select(i => i.ImpressionId)], [.. items.Select(i => i.Score)], served.ServedAt, occurredAt);
            _requests.Add(request);
            for (var i = 0; i < items.Count; i++)
            {
                _pending[items[i].ImpressionId] = (request, i);
                if (_early.Remove(items[i].ImpressionId, out var early))
                {
                    Decide(request, i, early.Kind);
                }
            }
        }
    }

    public void AddFeedback(FeedbackReceived feedback)
    {
        ArgumentNullException.ThrowIfNull(feedback);
        lock (_lock)
        {
            Arrived(feedback.OccurredAt);
            if (_pending.TryGetValue(feedback.ImpressionId, out var p))
            {
                Decide(p.Request, p.Item, feedback.Kind);
            }
            else if (!_early.TryGetValue(feedback.ImpressionId, out var known) || (IsPositive(feedback.Kind) && !IsPositive(known.Kind)))
            {
                // A positive outranks an explicit negative for the same impression, whichever came first.
                _early[feedback.ImpressionId] = (feedback.Kind, feedback.OccurredAt);
            }
        }
    }

    /// <summary>
    /// Removes and returns, oldest event time first, the requests that are labelled: every impression decided, or the
    /// window closed on the watermark (with the idle flush as of the clock's now).
    /// </summary>
    public IReadOnlyList<LabelledRequest> CollectLabelled()
    {
        var window = options.Value.LabelWindow;
        lock (_lock)
        {
            var watermark = EffectiveWatermark(window);
            bool Closed(PendingRequest r) => r.Undecided == 0 || (watermark != DateTimeOffset.MinValue && r.OccurredAt + window <= watermark);
            var closed = _requests.Where(Closed).OrderBy(r => r.OccurredAt).ToList();
            if (closed.Count > 0)
            {
                _requests.RemoveAll(Closed);
                foreach (var id in closed.SelectMany(r => r.ImpressionIds))
                {
                    _pending.Remove(id);
                }
            }

            // Feedback still unmatched after a window names an impression that was already labelled (or never seen).
            foreach (var (id, _) in _early.Where(c => c.Value.At + window <= watermark).ToList())
            {
                _early.Remove(id);
                _lateFeedback++;
            }

            return [.. closed.Select(r => new LabelledRequest(r.Input, r.Labels, r.ServedScores, r.ServedAt) { OccurredAt = r.OccurredAt })];
        }
    }

    /// <summary>Event time of a request: <see cref="ImpressionsServed.OccurredAt"/>, or <see cref="ImpressionsServed.ServedAt"/> from older writers.</summary>
    public static DateTimeOffset EventTime(ImpressionsServed served)
    {
        ArgumentNullException.ThrowIfNull(served);
        return served.OccurredAt ?? served.ServedAt;
    }

    /// <summary>
    /// The request as the models read it in training, from what serving logged: the context and candidates with the
    /// features they were served with, the precomputed representations the final stage used, and no user embedding, so
    /// that the trainer's own user tower computes it from the logged sequence (the tower trains end to end with the
    /// tiers). The sequence's ages are taken on event time, as of when user-model computed the served vector
    /// (<c>occurredAt - ageMs</c>, the router measuring the age on the request's event time), the instant its tower read
    /// them, so the tower sees in training what it saw when the served vector was made.
    /// </summary>
    internal static RankingInput ToInput(ImpressionsServed served, IReadOnlyList<ServedImpression> items)
    {
        var ageMs = served.Embedding.AgeMs;
        return new RankingInput
        {
            UserId = served.UserId,
            Context = served.Context,
            At = EventTime(served) - TimeSpan.FromMilliseconds(double.IsFinite(ageMs) ? Math.Max(0, ageMs) : 0),
            Recent = served.Embedding.Recent ?? [],
            UserEmbedding = null,
            Ads = [.. items.Select(i => new AdInput(i.AdId, i.Category, i.Precomputed, i.Features))],
        };
    }

    private static bool IsPositive(FeedbackKind kind) => kind is FeedbackKind.Click or FeedbackKind.Conversion;

    private void Decide(PendingRequest request, int item, FeedbackKind kind)
    {
        var positive = IsPositive(kind);
        if (request.Decided[item] && (!positive || request.Labels[item] == 1f))
        {
            return; // a repeated click, or a no-click after a click: the click stands
        }

        if (!request.Decided[item])
        {
            request.Decided[item] = true;
            request.Undecided--;
        }

        request.Labels[item] = positive ? 1f : 0f;
        switch (kind)
        {
            case FeedbackKind.NoClick:
                _explicitNegatives++;
                break;
            case FeedbackKind.Conversion:
                _conversions++;
                break;
        }
    }

    private void Arrived(DateTimeOffset occurredAt)
    {
        if (occurredAt > _watermark)
        {
            _watermark = occurredAt;
        }

        _lastArrival = clock.GetUtcNow();
    }

    private DateTimeOffset EffectiveWatermark(TimeSpan window)
    {
        if (_watermark == DateTimeOffset.MinValue)
        {
            return _watermark;
        }

        var idle = clock.GetUtcNow() - _lastArrival;
        return idle >= window ? _watermark + idle : _watermark;
    }

    private sealed record PendingRequest(RankingInput Input, string[] ImpressionIds, double[] ServedScores, DateTimeOffset ServedAt, DateTimeOffset OccurredAt)
    {
        /// <summary>1 for a clicked (or converted) impression; written under the joiner's lock until the request is collected.</summary>
        public float[] Labels { get; } = new float[ImpressionIds.Length];

        /// <summary>Impressions whose label feedback already decided (a click, a conversion or an explicit no-click).</summary>
        public bool[] Decided { get; } = new bool[ImpressionIds.Length];

        public int Undecided { get; set; } = ImpressionIds.Length;
    }
}

/// <summary>One served request with its final labels (1 = clicked, per candidate of <see cref="Input"/>) and the scores it was served with.</summary>
public sealed record LabelledRequest(RankingInput Input, float[] Labels, double[] ServedScores, DateTimeOffset ServedAt)
{
    /// <summary>Event time of the request; <see cref="ServedAt"/> when not given.</summary>
    public DateTimeOffset OccurredAt { get; init; } = ServedAt;

    public int Count => Labels.Length;
}
