using System.ComponentModel.DataAnnotations;
using System.Globalization;
using Mesh.Contracts;

namespace Mesh.World;

/// <summary>
/// A seeded synthetic ad world with a planted click model. Categories, users and ads live in one latent space R^D:
/// a category is a unit direction, an ad is its category's direction plus noise, a user's interest is a mix of 1-3
/// category directions plus noise that drifts slowly with simulated time. Ads are born and die (exponential lifetime),
/// keeping <see cref="WorldOptions.ActiveAds"/> alive. The truth is
/// <code>
/// logit = b0 + userBias + adQuality + surfaceEffect[surface] + α·&lt;u(t), a&gt; + W[surface, category] + hourEffect(hour)
/// p     = sigmoid(logit)
/// </code>
/// so a model must learn interactions (the user-ad dot product and the surface-category table), not just per-id biases.
/// Traffic comes from <see cref="CreateTraffic"/>. Everything is a function of <see cref="WorldOptions.Seed"/> and
/// <see cref="Start"/>; the world is thread-safe (one lock).
/// </summary>
public sealed class SyntheticWorld
{
    /// <summary>Surfaces of <see cref="RankContext.Surface"/>.</summary>
    public static readonly IReadOnlyList<string> Surfaces = ["feed", "stories", "reels"];

    /// <summary>Devices of <see cref="RankContext.Device"/>.</summary>
    public static readonly IReadOnlyList<string> Devices = ["ios", "android", "web"];

    // Per surface: how often users are on it before personal taste, and its logit offset in the truth.
    private static readonly double[] SurfacePrior = [0.5, 0.2, 0.3];
    private static readonly double[] SurfaceEffect = [0.0, -0.4, 0.25];
    private static readonly double[] DevicePrior = [0.40, 0.45, 0.15];

    // Per-dimension noise around category directions: keeps users and ads of one category distinguishable.
    private const double InterestNoise = 0.3;
    private const double AdNoise = 0.3;
    private const int MaxUserCategories = 3;

    private readonly Lock _gate = new();
    private readonly double[][] _categoryDirections; // (C, D), unit rows
    private readonly string[] _categoryIds;
    private readonly UserState[] _users;
    private readonly double[] _zipfCumulative; // (U): cumulative session weight by popularity rank
    private readonly int[] _userByRank; // popularity rank -> user index, a seeded permutation
    private readonly double[][] _surfaceCategory; // W: (surfaces, C)
    private readonly List<AdState> _ads = []; // every ad ever born; list index = id number
    private readonly int[] _aliveBySlot; // (ActiveAds): index of the ad alive in each slot
    private readonly PriorityQueue<int, (long DiesTicks, int Slot)> _deaths = new(); // slot by its ad's death time
    private readonly Random _churn;

    /// <param name="options">Validated with data annotations.</param>
    /// <param name="start">Simulated time zero: ads are born and interests start drifting here.</param>
    public SyntheticWorld(WorldOptions options, DateTimeOffset start)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        if (options.MeanAdLifetime <= TimeSpan.Zero || options.MeanRequestGap <= TimeSpan.Zero)
        {
            throw new ArgumentException("MeanAdLifetime and MeanRequestGap must be positive.", nameof(options));
        }

        Options = options;
        Start = start;

        var random = new Random(Seeds.Derive(options.Seed, Seeds.Population));
        _categoryIds = [.. Enumerable.Range(0, options.Categories).Select(c => "c" + c.ToString("D2", CultureInfo.InvariantCulture))];
        _categoryDirections = [.. Enumerable.Range(0, options.Categories).Select(_ => UnitVector(random, options.Dimensions))];
        _surfaceCategory = [.. Surfaces.Select(_ => Enumerable.Range(0, options.Categories).Select(_ => options.SurfaceCategoryScale * random.NextGaussian()).ToArray())];
        _users = [.. Enumerable.Range(0, options.Users).Select(i => CreateUser(random, i))];

        _zipfCumulative = new double[options.Users];
        var total = 0.0;
        for (var rank = 0; rank < options.Users; rank++)
        {
            total += Math.Pow(rank + 1, -options.UserZipfExponent);
            _zipfCumulative[rank] = total;
        }

        _userByRank = [.. Enumerable.Range(0, options.Users)];
        random.Shuffle(_userByRank);

        // Lifetimes are memoryless, so ads that all start at time zero with fresh exponential lifetimes are already
        // the steady state of the churn.
        _churn = new Random(Seeds.Derive(options.Seed, Seeds.AdChurn));
        _aliveBySlot = new int[options.ActiveAds];
        for (var slot = 0; slot < options.ActiveAds; slot++)
        {
            BirthLocked(slot, start);
        }
    }

    public WorldOptions Options { get; }

    /// <summary>Simulated time zero.</summary>
    public DateTimeOffset Start { get; }

    /// <summary>Category ids, <c>c00</c> to <c>c{C-1}</c>.</summary>
    public IReadOnlyList<string> CategoryIds => _categoryIds;

    /// <summary>Ads alive at <paramref name="time"/>. The world only moves forward: an earlier time than it has reached gives the ads alive now.</summary>
    public IReadOnlyList<Candidate> AliveAds(DateTimeOffset time)
    {
        lock (_gate)
        {
            AdvanceLocked(time);
            return [.. _aliveBySlot.Select(i => new Candidate { AdId = _ads[i].Id, Category = _ads[i].CategoryId })];
        }
    }

    /// <summary>A user's interest vector u(t), shape (D): base interest plus drift at the simulated minute of <paramref name="time"/>.</summary>
    public double[] InterestOf(string userId, DateTimeOffset time)
    {
        var user = UserFor(userId);
        var interest = new double[Options.Dimensions];
        lock (_gate)
        {
            InterestLocked(user, MinuteOf(time), interest);
        }

        return interest;
    }

    /// <summary>
    /// The planted click probability of <paramref name="adId"/> shown to <paramref name="userId"/> at <paramref name="time"/>
    /// (which sets the interest drift). Of <paramref name="context"/>, the surface (one of <see cref="Surfaces"/>) and the
    /// hour count; the device has no effect.
    /// </summary>
    /// <exception cref="ArgumentException">An id that the world never issued, or an unknown surface.</exception>
    public double TrueClickProbability(string userId, string adId, RankContext context, DateTimeOffset time)
    {
        ArgumentNullException.ThrowIfNull(context);
        var user = UserFor(userId);
        var surface = SurfaceIndex(context.Surface);
        Span<double> interest = stackalloc double[Options.Dimensions];
        lock (_gate)
        {
            var ad = AdFor(adId);
            InterestLocked(user, MinuteOf(time), interest);
            return Sigmoid(LogitLocked(user, interest, ad, surface, context.Hour));
        }
    }

    /// <summary>A stream of requests from this world; see <see cref="TrafficStream"/>.</summary>
    public TrafficStream CreateTraffic(TrafficOptions options) => new(this, options);

    /// <summary>Position of <paramref name="surface"/> in <see cref="Surfaces"/>; <see cref="ArgumentException"/> when unknown.</summary>
    public static int SurfaceIndex(string surface)
    {
        for (var s = 0; s < Surfaces.Count; s++)
        {
            if (string.Equals(Surfaces[s], surface, StringComparison.Ordinal))
            {
                return s;
            }
        }

        throw new ArgumentException($"Unknown surface '{surface}'.", nameof(surface));
    }

    internal Lock Gate => _gate;

    internal int AliveAdCount => _aliveBySlot.Length;

    internal AdState AliveAdLocked(int slot) => _ads[_aliveBySlot[slot]];

    internal AdState AdLocked(int index) => _ads[index];

    internal long MinuteOf(DateTimeOffset time) => Math.Max(0, (time - Start).Ticks / TimeSpan.TicksPerMinute);

    /// <summary>Births and deaths up to <paramref name="time"/>, in death-time order (ties by slot), so the ad sequence is
    /// the same however finely time is stepped.</summary>
    internal void AdvanceLocked(DateTimeOffset time)
    {
        while (_deaths.TryPeek(out var slot, out var due) && due.DiesTicks <= time.UtcTicks)
        {
            _deaths.Dequeue();
            BirthLocked(slot, new DateTimeOffset(due.DiesTicks, TimeSpan.Zero));
        }
    }

    internal UserState SampleUser(Random random)
    {
        var x = random.NextDouble() * _zipfCumulative[^1];
        var rank = Array.BinarySearch(_zipfCumulative, x);
        rank = rank >= 0 ? rank : Math.Min(~rank, _zipfCumulative.Length - 1);
        return _users[_userByRank[rank]];
    }

    internal int SampleOrganicCategory(Random random, ReadOnlySpan<double> interest)
    {
        Span<double> weights = stackalloc double[_categoryDirections.Length];
        var max = double.NegativeInfinity;
        for (var c = 0; c < weights.Length; c++)
        {
            weights[c] = Dot(interest, _categoryDirections[c]) / Options.OrganicTemperature;
            max = Math.Max(max, weights[c]);
        }

        for (var c = 0; c < weights.Length; c++)
        {
            weights[c] = Math.Exp(weights[c] - max);
        }

        return random.NextWeighted(weights);
    }

    /// <summary>Writes u at <paramref name="minute"/> into <paramref name="interest"/> (D).</summary>
    internal void InterestLocked(UserState user, long minute, Span<double> interest)
    {
        double[] drift;
        if (user.Drift is null || minute >= user.DriftMinute)
        {
            user.DriftRandom ??= NewDriftRandom(user);
            user.Drift ??= new double[Options.Dimensions];
            Walk(user.DriftRandom, user.Drift, minute - user.DriftMinute);
            user.DriftMinute = minute;
            drift = user.Drift;
        }
        else
        {
            // A time before the cached walk: replay from zero without disturbing the cache. Rare (late lookups).
            drift = new double[Options.Dimensions];
            Walk(NewDriftRandom(user), drift, minute);
        }

        for (var d = 0; d < interest.Length; d++)
        {
            interest[d] = user.BaseInterest[d] + drift[d];
        }
    }

    internal double LogitLocked(UserState user, ReadOnlySpan<double> interest, AdState ad, int surface, int hour) =>
        Options.BaseLogit
        + user.Bias
        + ad.Quality
        + SurfaceEffect[surface]
        + Options.Interaction * Dot(interest, ad.Latent)
        + _surfaceCategory[surface][ad.Category]
        + Options.HourAmplitude * Math.Cos(2 * Math.PI * (hour - 20) / 24.0);

    internal static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        var sum = 0.0;
        for (var d = 0; d < x.Length; d++)
        {
            sum += x[d] * y[d];
        }

        return sum;
    }

    internal static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    internal static int DrawSurface(Random random, UserState user) => random.NextWeighted(user.SurfaceMix);

    internal static int DrawDevice(Random random, UserState user)
    {
        // A session is on the preferred device 85% of the time, else on one of the others.
        if (random.NextDouble() < 0.85)
        {
            return user.PreferredDevice;
        }

        return (user.PreferredDevice + 1 + random.Next(Devices.Count - 1)) % Devices.Count;
    }

    private UserState CreateUser(Random random, int index)
    {
        var d = Options.Dimensions;
        var interest = new double[d];
        var categories = 1 + random.Next(MaxUserCategories);
        var weightSum = 0.0;
        for (var k = 0; k < categories; k++)
        {
            var direction = _categoryDirections[random.Next(_categoryDirections.Length)];
            var weight = random.NextExponential(1.0);
            weightSum += weight;
            for (var j = 0; j < d; j++)
            {
                interest[j] += weight * direction[j];
            }
        }

        for (var j = 0; j < d; j++)
        {
            interest[j] = (interest[j] / weightSum) + (InterestNoise * random.NextGaussian());
        }

        var bias = Options.UserBiasScale * random.NextGaussian();
        var device = random.NextWeighted(DevicePrior);
        var mix = SurfacePrior.Select(p => p * random.NextExponential(1.0)).ToArray();
        var mixSum = mix.Sum();
        for (var s = 0; s < mix.Length; s++)
        {
            mix[s] /= mixSum;
        }

        return new UserState
        {
            Index = index,
            Id = "u" + index.ToString("D6", CultureInfo.InvariantCulture),
            BaseInterest = interest,
            Bias = bias,
            PreferredDevice = device,
            SurfaceMix = mix,
        };
    }

    private void BirthLocked(int slot, DateTimeOffset born)
    {
        var category = _churn.Next(_categoryDirections.Length);
        var latent = new double[Options.Dimensions];
        for (var j = 0; j < latent.Length; j++)
        {
            latent[j] = _categoryDirections[category][j] + (AdNoise * _churn.NextGaussian());
        }

        var quality = Options.AdQualityScale * _churn.NextGaussian();
        var lifetime = TimeSpan.FromTicks(Math.Max(1, (long)_churn.NextExponential(Options.MeanAdLifetime.Ticks)));
        var ad = new AdState
        {
            Index = _ads.Count,
            Id = "a" + _ads.Count.ToString("D6", CultureInfo.InvariantCulture),
            Category = category,
            CategoryId = _categoryIds[category],
            Latent = latent,
            Quality = quality,
            Born = born,
            Dies = born + lifetime,
        };
        _ads.Add(ad);
        _aliveBySlot[slot] = ad.Index;
        _deaths.Enqueue(slot, (ad.Dies.UtcTicks, slot));
    }

    /// <summary>
    /// <paramref name="minutes"/> steps of the drift walk: d ← (1 - reversion)·d + step·N(0, I), then |d| is clamped to
    /// <see cref="WorldOptions.MaxDrift"/>. Mean reversion keeps it near the base interest on average; the clamp bounds it always.
    /// </summary>
    private void Walk(Random random, double[] drift, long minutes)
    {
        var keep = 1.0 - Options.DriftReversion;
        for (long m = 0; m < minutes; m++)
        {
            var norm2 = 0.0;
            for (var d = 0; d < drift.Length; d++)
            {
                drift[d] = (keep * drift[d]) + (Options.DriftStep * random.NextGaussian());
                norm2 += drift[d] * drift[d];
            }

            var norm = Math.Sqrt(norm2);
            if (norm > Options.MaxDrift)
            {
                for (var d = 0; d < drift.Length; d++)
                {
                    drift[d] *= Options.MaxDrift / norm;
                }
            }
        }
    }

    private Random NewDriftRandom(UserState user) => new(Seeds.Derive(Options.Seed, Seeds.UserDrift, user.Index));

    private UserState UserFor(string userId)
    {
        if (TryParseId(userId, 'u', out var index) && index < _users.Length)
        {
            return _users[index];
        }

        throw new ArgumentException($"Unknown user '{userId}'.", nameof(userId));
    }

    private AdState AdFor(string adId)
    {
        if (TryParseId(adId, 'a', out var index) && index < _ads.Count)
        {
            return _ads[index];
        }

        throw new ArgumentException($"Unknown ad '{adId}' (not born yet, or not from this world).", nameof(adId));
    }

    private static bool TryParseId(string? id, char prefix, out int index)
    {
        index = -1;
        return id is { Length: > 1 } && id[0] == prefix
            && int.TryParse(id.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }

    private static double[] UnitVector(Random random, int dimensions)
    {
        var v = new double[dimensions];
        double norm;
        do
        {
            for (var j = 0; j < dimensions; j++)
            {
                v[j] = random.NextGaussian();
            }

            norm = Math.Sqrt(Dot(v, v));
        }
        while (norm < 1e-9);

        for (var j = 0; j < dimensions; j++)
        {
            v[j] /= norm;
        }

        return v;
    }
}
