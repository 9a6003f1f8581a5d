using Mesh.Runtime;

namespace Mesh.Precompute.Speculation;

/// <summary>
/// What precompute wrote and what became of it: a representation is <em>used</em> when an impression shows the
/// ranker served with it, and <em>wasted</em> when its TTL passes unused. Reported under <c>precompute</c>.
/// </summary>
public sealed class PrecomputeLedger : IStatsContributor
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly HashSet<(string Key, DateTimeOffset EmbeddingTime)> _inFlight = [];
    private readonly Lock _lock = new();
    private long _computed;
    private long _used;
    private long _expiredUsed;
    private long _expiredUnused;
    private DateTimeOffset? _latest;

    /// <summary>The newest instant (event time, else clock) precompute worked at; null before any work.</summary>
    public DateTimeOffset? Latest
    {
        get
        {
            lock (_lock)
            {
                return _latest;
            }
        }
    }

    /// <summary>Moves <see cref="Latest"/> forward to <paramref name="now"/>; an older instant changes nothing.</summary>
    public void Observe(DateTimeOffset now)
    {
        lock (_lock)
        {
            if (_latest is null || now > _latest)
            {
                _latest = now;
            }
        }
    }

    /// <summary>
    /// Claims the keys to compute from the embedding of <paramref name="embeddingTime"/>: those not computed from it
    /// after <paramref name="freshAfter"/> and not being computed from it by another handler right now. The check and
    /// the claim are one step, so an impression and an embedding update for one user, handled at once, do not both
    /// compute the same pairs. Every claim ends in <see cref="Complete"/>, whether the write succeeded or not.
    /// </summary>
    public IReadOnlyList<string> Claim(IEnumerable<string> keys, DateTimeOffset embeddingTime, DateTimeOffset freshAfter)
    {
        lock (_lock)
        {
            var claimed = new List<string>();
            foreach (var key in keys)
            {
                var fresh = _entries.TryGetValue(key, out var e) && e.EmbeddingTime == embeddingTime && e.ComputedAt > freshAfter;
                if (!fresh && _inFlight.Add((key, embeddingTime)))
                {
                    claimed.Add(key);
                }
            }

            return claimed;
        }
    }

    /// <summary>
    /// Ends a <see cref="Claim"/>: when <paramref name="computedAt"/> is given the keys were written and are counted,
    /// else (the write failed) they are only released for the next handler to try.
    /// </summary>
    public void Complete(IReadOnlyList<string> keys, DateTimeOffset embeddingTime, DateTimeOffset? computedAt, DateTimeOffset expiresAt)
    {
        lock (_lock)
        {
            foreach (var key in keys)
            {
                _inFlight.Remove((key, embeddingTime));
                if (computedAt is { } now)
                {
                    var used = _entries.TryGetValue(key, out var old) && old.Used;
                    _entries[key] = new Entry(now, expiresAt, embeddingTime) { Used = used };
                    _computed++;
                }
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
