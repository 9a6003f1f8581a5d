using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models.Features;

namespace Mesh.Models.Tests;

/// <summary>Seeded requests for the model tests.</summary>
internal static class Requests
{
    public static readonly DateTimeOffset Now = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    public static readonly string[] Categories = ["c0", "c1", "c2", "c3"];

    /// <summary>A request of <paramref name="candidates"/> ads with a random recent history and context.</summary>
    public static RankingInput Random(Random rng, int candidates, float[]? embedding = null, int events = -1)
    {
        events = events >= 0 ? events : rng.Next(0, 20);
        return new RankingInput
        {
            UserId = "u" + rng.Next(50),
            Context = new RankContext { Surface = rng.Next(2) == 0 ? "feed" : "reels", Device = "ios", Hour = rng.Next(24) },
            At = Now,
            Recent = [.. Enumerable.Range(0, events).Select(i => Event(Categories[rng.Next(Categories.Length)], TimeSpan.FromSeconds(10 * (events - i))))],
            UserEmbedding = embedding,
            Ads = [.. Enumerable.Range(0, candidates).Select(_ => Ad(rng))],
        };
    }

    /// <summary>
    /// <paramref name="request"/> with random values of the features of <c>FeatureSchemaTests.Schema</c> (segment, affinity,
    /// tags, price), each sometimes absent, tags a list of 0 to 4 values (one beyond the 3 read).
    /// </summary>
    public static RankingInput WithFeatures(RankingInput request, Random rng)
    {
        var context = new Dictionary<string, JsonElement>();
        if (rng.Next(4) > 0)
        {
            context["segment"] = JsonSerializer.SerializeToElement("s" + rng.Next(4));
        }

        if (rng.Next(4) > 0)
        {
            context["affinity"] = JsonSerializer.SerializeToElement(Math.Round(rng.NextDouble(), 3));
        }

        return request with
        {
            Context = request.Context with { Features = context },
            Ads = [.. request.Ads.Select(a =>
            {
                var features = new Dictionary<string, JsonElement>
                {
                    ["tags"] = JsonSerializer.SerializeToElement(Enumerable.Range(0, rng.Next(5)).Select(_ => "t" + rng.Next(10)).ToArray()),
                };
                if (rng.Next(4) > 0)
                {
                    features["price"] = JsonSerializer.SerializeToElement(Math.Round(rng.NextDouble() * 500, 2));
                }

                return a with { Features = features };
            })],
        };
    }

    public static AdInput Ad(Random rng) => new("a" + rng.Next(200), Categories[rng.Next(Categories.Length)]);

    public static RecentEvent Event(string category, TimeSpan ago) =>
        new() { Category = category, Kind = UserActionKind.View, OccurredAt = Now - ago };
}
