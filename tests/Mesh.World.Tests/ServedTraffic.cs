using Mesh.Testing;

namespace Mesh.World.Tests;

/// <summary>One served impression of <see cref="ServedTraffic"/>: the raw ids a model would see, the truth and the drawn label.</summary>
public sealed record Impression(string UserId, string AdId, string Category, string Surface, string Device, double TrueP, bool Clicked);

/// <summary>
/// Driver-like traffic without a mesh: 100 requests/s of simulated time, 50 candidates each, and K = 10 of them served
/// uniformly at random (what an untrained ranker serves, and unbiased logging for the regression tests), each clicked
/// with its planted probability.
/// </summary>
public sealed class ServedTraffic
{
    public const int DefaultRequests = 20_000; // 200k impressions, 200 s of simulated time
    public const int K = 10;

    private ServedTraffic(List<Impression> impressions, double pairRecurrence, double oracleCtr)
    {
        Impressions = impressions;
        PairRecurrence = pairRecurrence;
        OracleCtr = oracleCtr;
    }

    public IReadOnlyList<Impression> Impressions { get; }

    /// <summary>Share of candidates whose (user, ad) pair was a candidate of the same user within the previous 2 minutes.</summary>
    public double PairRecurrence { get; }

    /// <summary>Mean true p of the best K candidates: the CTR a perfect ranker would get.</summary>
    public double OracleCtr { get; }

    public double Ctr => Impressions.Average(i => i.Clicked ? 1.0 : 0.0);

    public static ServedTraffic Generate(WorldOptions options, int requests = DefaultRequests)
    {
        var world = new SyntheticWorld(options, TestClock.Start);
        var traffic = world.CreateTraffic(new TrafficOptions { RequestsPerSecond = 100, CandidatesPerRequest = 50 });
        var random = new Random(7);
        var impressions = new List<Impression>(requests * K);
        var lastSeen = new Dictionary<(string User, string Ad), DateTimeOffset>();
        long recurring = 0;
        long candidates = 0;
        var oracle = 0.0;
        var order = new int[50];
        for (var i = 0; i < requests; i++)
        {
            var request = traffic.Next(TestClock.Start + TimeSpan.FromMilliseconds(10.0 * i));
            foreach (var candidate in request.Candidates)
            {
                var pair = (request.UserId, candidate.AdId!);
                if (lastSeen.TryGetValue(pair, out var seen) && request.At - seen <= TimeSpan.FromMinutes(2))
                {
                    recurring++;
                }

                lastSeen[pair] = request.At;
                candidates++;
            }

            oracle += request.ClickProbabilities.OrderDescending().Take(K).Sum();
            for (var j = 0; j < order.Length; j++)
            {
                order[j] = j;
            }

            random.Shuffle(order);
            foreach (var j in order.Take(K))
            {
                var p = request.ClickProbabilities[j];
                var ad = request.Candidates[j];
                impressions.Add(new Impression(request.UserId, ad.AdId!, ad.Category!, request.Context.Surface, request.Context.Device, p, random.NextDouble() < p));
            }
        }

        return new ServedTraffic(impressions, (double)recurring / candidates, oracle / (requests * K));
    }
}

/// <summary>The default world's traffic, generated once for the tests that share it (a few seconds).</summary>
public sealed class DefaultServedTraffic
{
    public ServedTraffic Traffic { get; } = ServedTraffic.Generate(new WorldOptions());
}
