using Mesh.Contracts;
using Mesh.Models.Features;
using Microsoft.Extensions.Options;

namespace Mesh.Trainer.Training;

/// <summary>
/// Joins served impressions with their clicks by impression id. Clicks arrive late, sometimes before the impression
/// event itself (two topics, no order between them): such a click waits for its impression for one label window.
/// The impressions of one request become one labelled request when its window closes (they share their serving time).
/// </summary>
public sealed class LabelJoiner(IOptions<TrainerOptions> options)
{
    private readonly Dictionary<string, (PendingRequest Request, int Item)> _pending = new(StringComparer.Ordinal);
    private readonly List<PendingRequest> _requests = [];
    private readonly Dictionary<string, DateTimeOffset> _earlyClicks = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _lateClicks;

    /// <summary>Clicks that came after their impression's window had closed (counted, not trained on).</summary>
    public long LateClicks => Interlocked.Read(ref _lateClicks);

    /// <summary>Impressions waiting for their label window to close.</summary>
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

    public void AddImpressions(ImpressionsServed served)
    {
        ArgumentNullException.ThrowIfNull(served);
        lock (_lock)
        {
            var items = served.Items.Where(i => !_pending.ContainsKey(i.ImpressionId)).DistinctBy(i => i.ImpressionId).ToList(); // redelivery
            if (items.Count == 0)
            {
                return;
            }

            var request = new PendingRequest(ToInput(served, items), [.. items.Select(i => i.ImpressionId)], [.. items.Select(i => i.Score)], served.ServedAt);
            for (var i = 0; i < items.Count; i++)
            {
                request.Labels[i] = _earlyClicks.Remove(items[i].ImpressionId) ? 1f : 0f;
                _pending[items[i].ImpressionId] = (request, i);
            }

            _requests.Add(request);
        }
    }

    public void AddFeedback(FeedbackReceived feedback)
    {
        ArgumentNullException.ThrowIfNull(feedback);
        lock (_lock)
        {
            if (_pending.TryGetValue(feedback.ImpressionId, out var p))
            {
                p.Request.Labels[p.Item] = 1f;
            }
            else
            {
                _earlyClicks[feedback.ImpressionId] = feedback.OccurredAt;
            }
        }
    }

    /// <summary>Removes and returns, oldest first, the requests whose label window closed by <paramref name="now"/>.</summary>
    public IReadOnlyList<LabelledRequest> CollectLabelled(DateTimeOffset now)
    {
        var window = options.Value.LabelWindow;
        lock (_lock)
        {
            var closed = _requests.Where(r => r.ServedAt + window <= now).OrderBy(r => r.ServedAt).ToList();
            _requests.RemoveAll(r => r.ServedAt + window <= now);
            foreach (var id in closed.SelectMany(r => r.ImpressionIds))
            {
                _pending.Remove(id);
            }

            // A click still unmatched after a window names an impression that was already labelled (or never seen).
            foreach (var (id, _) in _earlyClicks.Where(c => c.Value + window <= now).ToList())
            {
                _earlyClicks.Remove(id);
                _lateClicks++;
            }

            return [.. closed.Select(r => new LabelledRequest(r.Input, r.Labels, r.ServedScores, r.ServedAt))];
        }
    }

    /// <summary>
    /// The request as the models read it in training, from what serving logged: the context and candidates with the
    /// features they were served with, the precomputed representations the final stage used, and no user embedding, so that the trainer's own user tower computes it
    /// from the logged sequence (the tower trains end to end with the tiers). The sequence's ages are taken as of when
    /// user-model computed the served vector (<c>servedAt - ageMs</c>), the instant its tower read them, so the tower
    /// sees in training what it saw when the served vector was made.
    /// </summary>
    internal static RankingInput ToInput(ImpressionsServed served, IReadOnlyList<ServedImpression> items)
    {
        var ageMs = served.Embedding.AgeMs;
        return new RankingInput
        {
            UserId = served.UserId,
            Context = served.Context,
            At = served.ServedAt - TimeSpan.FromMilliseconds(double.IsFinite(ageMs) ? Math.Max(0, ageMs) : 0),
            Recent = served.Embedding.Recent ?? [],
            UserEmbedding = null,
            Ads = [.. items.Select(i => new AdInput(i.AdId, i.Category, i.Precomputed, i.Features))],
        };
    }

    private sealed record PendingRequest(RankingInput Input, string[] ImpressionIds, double[] ServedScores, DateTimeOffset ServedAt)
    {
        /// <summary>1 for a clicked impression; written under the joiner's lock until the request is collected.</summary>
        public float[] Labels { get; } = new float[ImpressionIds.Length];
    }
}

/// <summary>One served request with its final labels (1 = clicked, per candidate of <see cref="Input"/>) and the scores it was served with.</summary>
public sealed record LabelledRequest(RankingInput Input, float[] Labels, double[] ServedScores, DateTimeOffset ServedAt)
{
    public int Count => Labels.Length;
}
