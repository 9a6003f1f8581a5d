using Mesh.Contracts;
using Mesh.Models;
using Microsoft.Extensions.Options;

namespace Mesh.Trainer.Training;

/// <summary>
/// Joins served impressions with their clicks by impression id. Clicks arrive late, sometimes before the impression
/// event itself (two topics, no order between them): such a click waits for its impression for one label window.
/// An impression becomes a labelled example when its window closes.
/// </summary>
public sealed class LabelJoiner(IOptions<TrainerOptions> options)
{
    private readonly Dictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _earlyClicks = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _lateClicks;

    /// <summary>Clicks that came after their impression's window had closed (counted, not trained on).</summary>
    public long LateClicks => Interlocked.Read(ref _lateClicks);

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
        lock (_lock)
        {
            foreach (var item in served.Items)
            {
                if (_pending.ContainsKey(item.ImpressionId))
                {
                    continue; // redelivery
                }

                var input = new FeatureInput(served.Embedding.Vector, served.Context, item.AdId, item.Category, item.Precomputed);
                var clicked = _earlyClicks.Remove(item.ImpressionId);
                _pending[item.ImpressionId] = new Pending(input, item.Score, served.ServedAt) { Clicked = clicked };
            }
        }
    }

    public void AddFeedback(FeedbackReceived feedback)
    {
        lock (_lock)
        {
            if (_pending.TryGetValue(feedback.ImpressionId, out var p))
            {
                p.Clicked = true;
            }
            else
            {
                _earlyClicks[feedback.ImpressionId] = feedback.OccurredAt;
            }
        }
    }

    /// <summary>Removes and returns, oldest first, the impressions whose label window closed by <paramref name="now"/>.</summary>
    public IReadOnlyList<LabelledExample> CollectLabelled(DateTimeOffset now)
    {
        var window = options.Value.LabelWindow;
        lock (_lock)
        {
            var closed = _pending.Where(p => p.Value.ServedAt + window <= now).OrderBy(p => p.Value.ServedAt).ToList();
            foreach (var (id, _) in closed)
            {
                _pending.Remove(id);
            }

            // A click still unmatched after a window names an impression that was already labelled (or never seen).
            foreach (var (id, _) in _earlyClicks.Where(c => c.Value + window <= now).ToList())
            {
                _earlyClicks.Remove(id);
                _lateClicks++;
            }

            return [.. closed.Select(p => new LabelledExample(p.Value.Input, p.Value.Clicked, p.Value.ServedScore, p.Value.ServedAt))];
        }
    }

    private sealed record Pending(FeatureInput Input, double ServedScore, DateTimeOffset ServedAt)
    {
        public bool Clicked { get; set; }
    }
}

/// <summary>An impression with its final label and the score it was served with.</summary>
public sealed record LabelledExample(FeatureInput Input, bool Clicked, double ServedScore, DateTimeOffset ServedAt);
