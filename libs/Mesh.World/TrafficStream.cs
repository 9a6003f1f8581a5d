using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Mesh.Contracts;

namespace Mesh.World;

/// <summary>Settings of a <see cref="TrafficStream"/>.</summary>
public sealed class TrafficOptions
{
    /// <summary>Mixed with <see cref="WorldOptions.Seed"/>: one world can give several independent streams. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// The rate the caller will ask for requests at. It only sizes the pool of open sessions (rate × mean request gap),
    /// so that a session's requests are <see cref="WorldOptions.MeanRequestGap"/> apart on average. Default 100.
    /// </summary>
    [Range(0.001, 1_000_000.0)]
    public double RequestsPerSecond { get; set; } = 100;

    /// <summary>Candidates per request, at most <see cref="WorldOptions.ActiveAds"/>. Default 50.</summary>
    [Range(1, RankRequest.MaxCandidates)]
    public int CandidatesPerRequest { get; set; } = 50;
}

/// <summary>One simulated request, with what happened just before it and the truth about its candidates.</summary>
public sealed record SyntheticRequest
{
    /// <summary>0-based position in the stream.</summary>
    public required long Sequence { get; init; }

    public required long SessionId { get; init; }

    /// <summary>True for the first request of a session (a fresh candidate pool).</summary>
    public required bool StartsSession { get; init; }

    public required string UserId { get; init; }

    /// <summary>Simulated time of the request.</summary>
    public required DateTimeOffset At { get; init; }

    public required RankContext Context { get; init; }

    /// <summary>0-3 organic events the session produced since its previous request, oldest first, all before <see cref="At"/>.</summary>
    public required IReadOnlyList<UserEventRequest> Events { get; init; }

    /// <summary>The retrieved candidates, in random order (position carries no retrieval signal).</summary>
    public required IReadOnlyList<Candidate> Candidates { get; init; }

    /// <summary>The planted click probability of each candidate at <see cref="At"/>, aligned with <see cref="Candidates"/>.</summary>
    public required IReadOnlyList<double> ClickProbabilities { get; init; }

    public RankRequest ToRankRequest(int k) => new()
    {
        UserId = UserId,
        Context = Context,
        Candidates = Candidates,
        K = k,
    };
}

/// <summary>
/// Requests from a <see cref="SyntheticWorld"/>. Sessions: a fixed number of session slots (rate × mean request gap);
/// each request picks a slot uniformly, so a session's requests are about <see cref="WorldOptions.MeanRequestGap"/>
/// apart; an empty slot starts a session for a Zipf-drawn user; after each request the session ends with probability
/// 1 / <see cref="WorldOptions.MeanSessionLength"/> (geometric length). A session keeps its candidate pool, replacing dead
/// ads and a <see cref="WorldOptions.CandidateRefreshRate"/> share per request, so (user, ad) pairs recur.
/// Deterministic given the world seed, the traffic seed and the sequence of times passed to <see cref="Next"/>.
/// Not thread-safe: one caller at a time.
/// </summary>
public sealed class TrafficStream
{
    private const int ItemsPerCategory = 1_000;
    private static readonly double[] EventKindWeights = [0.7, 0.2, 0.1]; // View, Engage, Search
    private static readonly TimeSpan EventSpacing = TimeSpan.FromMilliseconds(250);

    private readonly SyntheticWorld _world;
    private readonly int _candidates;
    private readonly Random _random;
    private readonly Session?[] _slots;
    private readonly double[] _interest;
    private readonly double[] _weights; // (ActiveAds): affinity-retrieval weights by alive slot, reused
    private long _sequence;
    private long _sessions;

    internal TrafficStream(SyntheticWorld world, TrafficOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        if (options.CandidatesPerRequest > world.Options.ActiveAds)
        {
            throw new ArgumentException("CandidatesPerRequest cannot exceed the world's ActiveAds.", nameof(options));
        }

        _world = world;
        _candidates = options.CandidatesPerRequest;
        _random = new Random(Seeds.Derive(world.Options.Seed, Seeds.Traffic, options.Seed));
        var slots = Math.Ceiling(options.RequestsPerSecond * world.Options.MeanRequestGap.TotalSeconds);
        _slots = new Session?[(int)Math.Clamp(slots, 1, 1_000_000)];
        _interest = new double[world.Options.Dimensions];
        _weights = new double[world.Options.ActiveAds];
    }

    /// <summary>The next request, happening at <paramref name="at"/> (non-decreasing from call to call).</summary>
    public SyntheticRequest Next(DateTimeOffset at)
    {
        lock (_world.Gate)
        {
            _world.AdvanceLocked(at);
            var slot = _random.Next(_slots.Length);
            var session = _slots[slot];
            var starts = session is null;
            if (session is null)
            {
                var drawn = _world.SampleUser(_random);
                session = new Session(_sessions++, drawn, SyntheticWorld.DrawDevice(_random, drawn));
                _slots[slot] = session;
            }

            var user = session.User;
            _world.InterestLocked(user, _world.MinuteOf(at), _interest);
            var events = OrganicEvents(user, at);
            RefreshPool(session, at, starts);

            var surface = SyntheticWorld.DrawSurface(_random, user);
            var hour = at.UtcDateTime.Hour;
            var candidates = new Candidate[session.Pool.Count];
            var probabilities = new double[session.Pool.Count];
            var shuffled = session.Pool.ToArray();
            _random.Shuffle(shuffled);
            for (var i = 0; i < shuffled.Length; i++)
            {
                var ad = _world.AdLocked(shuffled[i]);
                candidates[i] = new Candidate { AdId = ad.Id, Category = ad.CategoryId };
                probabilities[i] = SyntheticWorld.Sigmoid(_world.LogitLocked(user, _interest, ad, surface, hour));
            }

            if (_random.NextDouble() < 1.0 / _world.Options.MeanSessionLength)
            {
                _slots[slot] = null;
            }

            return new SyntheticRequest
            {
                Sequence = _sequence++,
                SessionId = session.Id,
                StartsSession = starts,
                UserId = user.Id,
                At = at,
                Context = new RankContext
                {
                    Surface = SyntheticWorld.Surfaces[surface],
                    Device = SyntheticWorld.Devices[session.Device],
                    Hour = hour,
                },
                Events = events,
                Candidates = candidates,
                ClickProbabilities = probabilities,
            };
        }
    }

    private UserEventRequest[] OrganicEvents(UserState user, DateTimeOffset at)
    {
        var events = new UserEventRequest[_random.Next(4)];
        for (var j = 0; j < events.Length; j++)
        {
            var category = _world.SampleOrganicCategory(_random, _interest);
            var item = category + (_world.Options.Categories * _random.Next(ItemsPerCategory));
            events[j] = new UserEventRequest
            {
                UserId = user.Id,
                Kind = (UserActionKind)_random.NextWeighted(EventKindWeights),
                ItemId = "i" + item.ToString("D6", CultureInfo.InvariantCulture),
                Category = _world.CategoryIds[category],
                OccurredAt = at - (EventSpacing * (events.Length - j)),
            };
        }

        return events;
    }

    private void RefreshPool(Session session, DateTimeOffset at, bool starts)
    {
        var pool = session.Pool;
        if (!starts)
        {
            // One draw per pooled ad, dead or not, so the draw count does not depend on ad deaths.
            for (var i = pool.Count - 1; i >= 0; i--)
            {
                var replace = _random.NextDouble() < _world.Options.CandidateRefreshRate;
                if (replace || _world.AdLocked(pool[i]).Dies <= at)
                {
                    pool.RemoveAt(i);
                }
            }
        }

        var need = _candidates - pool.Count;
        var byAffinity = 0;
        for (var i = 0; i < need; i++)
        {
            byAffinity += _random.NextDouble() < _world.Options.AffinityShare ? 1 : 0;
        }

        var taken = new HashSet<int>(pool);
        AddByAffinity(pool, taken, byAffinity);
        while (pool.Count < _candidates)
        {
            var ad = _world.AliveAdLocked(_random.Next(_world.AliveAdCount)).Index;
            if (taken.Add(ad))
            {
                pool.Add(ad);
            }
        }
    }

    /// <summary>
    /// Draws <paramref name="count"/> alive ads not taken yet, without replacement, with weight exp(&lt;u, a&gt; / T):
    /// noisy affinity, so retrieval favours the user's interests without being an oracle.
    /// </summary>
    private void AddByAffinity(List<int> pool, HashSet<int> taken, int count)
    {
        if (count == 0)
        {
            return;
        }

        var temperature = _world.Options.RetrievalTemperature;
        var max = double.NegativeInfinity;
        for (var slot = 0; slot < _weights.Length; slot++)
        {
            var ad = _world.AliveAdLocked(slot);
            _weights[slot] = taken.Contains(ad.Index) ? double.NegativeInfinity : SyntheticWorld.Dot(_interest, ad.Latent) / temperature;
            max = Math.Max(max, _weights[slot]);
        }

        var total = 0.0;
        var drawable = 0;
        for (var slot = 0; slot < _weights.Length; slot++)
        {
            _weights[slot] = Math.Exp(_weights[slot] - max); // exp(-inf) = 0: taken ads cannot be drawn
            total += _weights[slot];
            drawable += _weights[slot] > 0 ? 1 : 0;
        }

        for (var i = 0; i < Math.Min(count, drawable); i++)
        {
            // Inverse CDF by a linear scan; the last drawable slot catches rounding at the top end.
            var x = _random.NextDouble() * total;
            var picked = -1;
            for (var slot = 0; slot < _weights.Length; slot++)
            {
                if (_weights[slot] > 0)
                {
                    picked = slot;
                    x -= _weights[slot];
                    if (x < 0)
                    {
                        break;
                    }
                }
            }

            var ad = _world.AliveAdLocked(picked).Index;
            taken.Add(ad);
            pool.Add(ad);
            total -= _weights[picked];
            _weights[picked] = 0;
        }
    }

    private sealed class Session(long id, UserState user, int device)
    {
        public long Id { get; } = id;
        public UserState User { get; } = user;
        public int Device { get; } = device;

        /// <summary>Ad indices, at most the stream's candidates per request.</summary>
        public List<int> Pool { get; } = [];
    }
}
