using Mesh.Runtime;

namespace Mesh.Precompute.Speculation;

/// <summary>
/// What precompute computed and what became of each computation, reported under <c>precompute</c> in <c>/v1/stats</c>.
/// </summary>
/// <remarks>
/// The unit is one computation (one foundation-model call written to the store), not one key: a pair recomputed before
/// its TTL (refresh, newer embedding) supersedes the earlier computation, which is then settled on its own. A
/// computation is <em>read</em> when an impression reports that the ranker's final stage found it (the lookup names it
/// by its <c>computedAt</c>); it is <em>settled</em> when its TTL passes (<see cref="Sweep"/>) or precompute stops
/// (<see cref="SettleAll"/>): used if read at least once, wasted if not. Until then it is <em>outstanding</em>.
/// Waste is reported over settled computations, and as a bound that counts every outstanding unread one as wasted.
/// </remarks>
public sealed class PrecomputeLedger : IStatsContributor
{
    private readonly Dictionary<string, List<Computation>> _live = new(StringComparer.Ordinal);
    private readonly HashSet<(string Key, DateTimeOffset EmbeddingTime)> _inFlight = [];
    private readonly RecentSamples _ages = new();
    private readonly Lock _lock = new();
    private long _computed;
    private double _foundationMs;
    private long _superseded;
    private long _reads;
    private long _used;
    private long _readsUnmatched;
    private long _expiredUsed;
    private long _expiredUnused;
    private long _shutdownUsed;
    private long _shutdownUnused;
    private long _supersededUnused;
    private long _requests;
    private long _missesHeld;
    private long _missesNotHeld;
    private long _lookups;
    private long _hits;
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
    /// Claims the keys to compute from the embedding of <paramref name="embeddingTime"/>: those whose stored computation
    /// is not fresh and that no other handler is computing from that embedding right now. A computation is fresh when it
    /// was made after <paramref name="freshAfter"/> and, if <paramref name="sameEmbedding"/>, from this very embedding
    /// (else a newer embedding alone does not make it stale). The check and the claim are one step, so an impression and
    /// an embedding update for one user, handled at once, do not both compute the same pairs. Every claim ends in
    /// <see cref="Complete"/>, whether the write succeeded or not.
    /// </summary>
    public IReadOnlyList<string> Claim(IEnumerable<string> keys, DateTimeOffset embeddingTime, DateTimeOffset freshAfter, bool sameEmbedding = true)
    {
        lock (_lock)
        {
            var claimed = new List<string>();
            foreach (var key in keys)
            {
                var fresh = Current(key) is { } c && c.ComputedAt > freshAfter && (!sameEmbedding || c.EmbeddingTime == embeddingTime);
                if (!fresh && _inFlight.Add((key, embeddingTime)))
                {
                    claimed.Add(key);
                }
            }

            return claimed;
        }
    }

    /// <summary>
    /// Ends a <see cref="Claim"/>: when <paramref name="computedAt"/> is given the keys were written (each a computation
    /// that supersedes the key's previous one), else (the write failed) they are only released for the next handler.
    /// <paramref name="foundationMs"/> is the foundation model's time for these keys, in milliseconds.
    /// </summary>
    public void Complete(IReadOnlyList<string> keys, DateTimeOffset embeddingTime, DateTimeOffset? computedAt, DateTimeOffset expiresAt, double foundationMs = 0)
    {
        lock (_lock)
        {
            _foundationMs += foundationMs;
            foreach (var key in keys)
            {
                _inFlight.Remove((key, embeddingTime));
                if (computedAt is not { } now)
                {
                    continue;
                }

                if (!_live.TryGetValue(key, out var computations))
                {
                    computations = [];
                    _live[key] = computations;
                }

                if (computations.Count > 0 && !computations[^1].Superseded)
                {
                    computations[^1].Superseded = true;
                    _superseded++;
                }

                computations.Add(new Computation(now, expiresAt, embeddingTime));
                _computed++;
            }
        }
    }

    /// <summary>
    /// The ranker's final stage read the computation of <paramref name="key"/> made at <paramref name="computedAt"/>
    /// (null, from writers that do not name it: the latest) at <paramref name="readAt"/> (event time). A read of a
    /// computation the ledger no longer holds (settled already, or made before a restart) is counted apart.
    /// </summary>
    public void RecordRead(string key, DateTimeOffset? computedAt, DateTimeOffset readAt)
    {
        lock (_lock)
        {
            var c = Find(key, computedAt);
            if (c is null)
            {
                _readsUnmatched++;
                return;
            }

            _reads++;
            if (!c.Read)
            {
                c.Read = true;
                _used++;
            }

            var ageMs = Math.Max(0, (readAt - c.ComputedAt).TotalMilliseconds);
            _ages.Add(ageMs);
        }
    }

    /// <summary>
    /// The final stage looked <paramref name="key"/> up and found nothing. Told apart for tuning: a pair precompute never
    /// computed (or whose computations all settled: the speculator did not predict it in time) against one it holds a
    /// computation of (written after the lookup: precompute ran behind the request).
    /// </summary>
    public void RecordMiss(string key)
    {
        lock (_lock)
        {
            if (_live.ContainsKey(key))
            {
                _missesHeld++;
            }
            else
            {
                _missesNotHeld++;
            }
        }
    }

    /// <summary>Counts a served request whose final stage looked up <paramref name="lookups"/> pairs and found <paramref name="hits"/>.</summary>
    public void RecordRequest(int lookups, int hits)
    {
        lock (_lock)
        {
            _requests++;
            _lookups += lookups;
            _hits += hits;
        }
    }

    /// <summary>Settles the computations whose TTL has passed by <paramref name="now"/>: used if read, else wasted at expiry.</summary>
    public void Sweep(DateTimeOffset now)
    {
        lock (_lock)
        {
            foreach (var (key, computations) in _live.ToList())
            {
                foreach (var c in computations.Where(c => c.ExpiresAt <= now))
                {
                    Settle(c, ref _expiredUsed, ref _expiredUnused);
                }

                computations.RemoveAll(c => c.ExpiresAt <= now);
                if (computations.Count == 0)
                {
                    _live.Remove(key);
                }
            }
        }
    }

    /// <summary>
    /// Settles every outstanding computation as precompute stops: read ones as used, unread ones as wasted at shutdown
    /// (nothing will read them through this process any more). Returns the settled counts, for the stop's log line.
    /// </summary>
    public (long Used, long Wasted) SettleAll()
    {
        lock (_lock)
        {
            long used = 0, wasted = 0;
            foreach (var c in _live.Values.SelectMany(c => c))
            {
                Settle(c, ref used, ref wasted);
            }

            _live.Clear();
            _shutdownUsed += used;
            _shutdownUnused += wasted;
            return (used, wasted);
        }
    }

    public void Contribute(IDictionary<string, object?> stats)
    {
        lock (_lock)
        {
            long outstanding = 0, outstandingRead = 0, live = 0;
            foreach (var computations in _live.Values)
            {
                live += computations[^1].Superseded ? 0 : 1;
                foreach (var c in computations)
                {
                    outstanding++;
                    outstandingRead += c.Read ? 1 : 0;
                }
            }

            var wasted = _expiredUnused + _shutdownUnused;
            var settled = wasted + _expiredUsed + _shutdownUsed;
            var age = _ages.Summarize(digits: 1);
            stats["precompute"] = new
            {
                computed = _computed,
                requests = _requests,
                foundationCallsPerRequest = Rate(_computed, _requests),
                foundationMsPerRequest = Math.Round(Rate(_foundationMs, _requests), 4),
                finalStageLookups = _lookups,
                finalStageHits = _hits,
                coverage = Rate(_hits, _lookups),
                missesNotPredicted = _missesNotHeld,
                missesComputedLate = _missesHeld,
                live,
                superseded = _superseded,
                reads = _reads,
                used = _used,
                readsUnmatched = _readsUnmatched,
                outstanding,
                outstandingUnread = outstanding - outstandingRead,
                expiredUsed = _expiredUsed,
                expiredUnused = _expiredUnused,
                shutdownUsed = _shutdownUsed,
                shutdownUnused = _shutdownUnused,
                supersededUnused = _supersededUnused,
                settled,
                wasteRate = Rate(wasted, settled),
                wasteRateIfOutstandingUnread = Rate(wasted + outstanding - outstandingRead, settled + outstanding),
                ageAtUseMs = new { mean = age.Mean, p50 = age.P50, p90 = age.P90, p99 = age.P99 },
            };
        }
    }

    private Computation? Current(string key) =>
        _live.TryGetValue(key, out var computations) && computations.Count > 0 && !computations[^1].Superseded ? computations[^1] : null;

    private Computation? Find(string key, DateTimeOffset? computedAt)
    {
        if (!_live.TryGetValue(key, out var computations))
        {
            return null;
        }

        if (computedAt is null)
        {
            return Current(key);
        }

        // Newest first: two computations stamped alike (one event time) are told apart by the later one being stored.
        for (var i = computations.Count - 1; i >= 0; i--)
        {
            if (computations[i].ComputedAt == computedAt)
            {
                return computations[i];
            }
        }

        return null;
    }

    private void Settle(Computation c, ref long used, ref long wasted)
    {
        if (c.Read)
        {
            used++;
        }
        else
        {
            wasted++;
            _supersededUnused += c.Superseded ? 1 : 0;
        }
    }

    private static double Rate(double part, double whole) => whole == 0 ? 0 : part / whole;

    private sealed class Computation(DateTimeOffset computedAt, DateTimeOffset expiresAt, DateTimeOffset embeddingTime)
    {
        public DateTimeOffset ComputedAt { get; } = computedAt;
        public DateTimeOffset ExpiresAt { get; } = expiresAt;
        public DateTimeOffset EmbeddingTime { get; } = embeddingTime;
        public bool Read { get; set; }
        public bool Superseded { get; set; }
    }
}
