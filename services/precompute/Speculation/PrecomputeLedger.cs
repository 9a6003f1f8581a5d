using Mesh.Dapr;

namespace Mesh.Precompute.Speculation;

/// <summary>
/// What precompute wrote and what became of it: a representation is <em>used</em> when an impression shows the
/// ranker served with it, and <em>wasted</em> when its TTL passes unused. Reported under <c>precompute</c>.
/// </summary>
public sealed class PrecomputeLedger : IStatsContributor
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _computed;
    private long _used;
    private long _expiredUsed;
    private long _expiredUnused;

    /// <summary>True when <paramref name="key"/> was computed after <paramref name="freshAfter"/> from the embedding of <paramref name="embeddingTime"/>.</summary>
    public bool IsFresh(string key, DateTimeOffset embeddingTime, DateTimeOffset freshAfter)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(key, out var e) && e.EmbeddingTime == embeddingTime && e.ComputedAt > freshAfter;
        }
    }

    public void RecordComputed(IEnumerable<string> keys, DateTimeOffset now, DateTimeOffset expiresAt, DateTimeOffset embeddingTime)
    {
        lock (_lock)
        {
            foreach (var key in keys)
            {
                var used = _entries.TryGetValue(key, out var old) && old.Used;
                _entries[key] = new Entry(now, expiresAt, embeddingTime) { Used = used };
                _computed++;
            }
        }
    }

    public void RecordUsed(string key)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(key, out var e) && !e.Used)
            {
                e.Used = true;
                _used++;
            }
        }
    }

    /// <summary>Forgets entries whose TTL has passed, counting each as used or wasted.</summary>
    public void Sweep(DateTimeOffset now)
    {
        lock (_lock)
        {
            foreach (var (key, e) in _entries.Where(e => e.Value.ExpiresAt <= now).ToList())
            {
                _entries.Remove(key);
                if (e.Used)
                {
                    _expiredUsed++;
                }
                else
                {
                    _expiredUnused++;
                }
            }
        }
    }

    public void Contribute(IDictionary<string, object?> stats)
    {
        lock (_lock)
        {
            var expired = _expiredUsed + _expiredUnused;
            stats["precompute"] = new
            {
                computed = _computed,
                live = _entries.Count,
                used = _used,
                expiredUsed = _expiredUsed,
                expiredUnused = _expiredUnused,
                wasteRate = expired == 0 ? 0 : (double)_expiredUnused / expired,
            };
        }
    }

    private sealed record Entry(DateTimeOffset ComputedAt, DateTimeOffset ExpiresAt, DateTimeOffset EmbeddingTime)
    {
        public bool Used { get; set; }
    }
}
