using System.Globalization;
using Mesh.Contracts;

namespace Mesh.Bench.Load;

/// <summary>
/// Rank request bodies serialized once before measuring, so the client spends its share of the (shared) CPU on HTTP,
/// not on JSON. Users, ads and categories follow the synthetic world's id shapes (<c>u000123</c>, <c>a000123</c>,
/// <c>c07</c>); each ad has one fixed category, and a request's candidates are distinct ads.
/// </summary>
public sealed class RequestPool
{
    public const int UserCount = 1000;
    public const int AdCount = 2000;
    public const int CategoryCount = 24;
    public const int K = 10;
    public const int BudgetMs = 100;

    /// <summary>Bodies per candidate count: enough that consecutive requests differ in user and candidates.</summary>
    public const int Size = 256;

    private static readonly string[] Surfaces = ["feed", "stories", "reels"];
    private static readonly string[] Devices = ["ios", "android", "web"];

    private RequestPool(int candidates, IReadOnlyList<byte[]> bodies)
    {
        Candidates = candidates;
        Bodies = bodies;
    }

    public int Candidates { get; }

    /// <summary>UTF-8 JSON bodies of <see cref="RankRequest"/>, camelCase as the API expects.</summary>
    public IReadOnlyList<byte[]> Bodies { get; }

    public long AverageBytes => (long)Bodies.Average(b => b.Length);

    /// <summary>The same <paramref name="seed"/> and <paramref name="candidates"/> give the same bodies on every run.</summary>
    public static RequestPool Create(int candidates, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(candidates, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(candidates, Math.Min(AdCount, RankRequest.MaxCandidates));

        var random = new Random(seed);
        var ads = Enumerable.Range(0, AdCount)
            .Select(i => new Candidate { AdId = Id('a', i), Category = string.Create(CultureInfo.InvariantCulture, $"c{random.Next(CategoryCount):D2}") })
            .ToArray();

        var bodies = new byte[Size][];
        var order = Enumerable.Range(0, AdCount).ToArray();
        for (var b = 0; b < bodies.Length; b++)
        {
            // A partial Fisher-Yates shuffle: the first `candidates` slots become a uniform sample without repeats.
            for (var i = 0; i < candidates; i++)
            {
                var j = random.Next(i, order.Length);
                (order[i], order[j]) = (order[j], order[i]);
            }

            bodies[b] = MeshJson.Serialize(new RankRequest
            {
                UserId = Id('u', random.Next(UserCount)),
                Context = new RankContext
                {
                    Surface = Surfaces[random.Next(Surfaces.Length)],
                    Device = Devices[random.Next(Devices.Length)],
                    Hour = random.Next(24),
                },
                Candidates = [.. order.Take(candidates).Select(i => ads[i])],
                K = Math.Min(K, candidates),
                BudgetMs = BudgetMs,
            });
        }

        return new RequestPool(candidates, bodies);
    }

    private static string Id(char prefix, int index) => string.Create(CultureInfo.InvariantCulture, $"{prefix}{index:D6}");
}
