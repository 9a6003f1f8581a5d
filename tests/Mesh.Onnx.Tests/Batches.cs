using System.Text.Json;
using Mesh.Contracts;
using Mesh.Models.Features;

namespace Mesh.Onnx.Tests;

/// <summary>Seeded requests for the export tests.</summary>
internal static class Batches
{
    private static readonly DateTimeOffset Now = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] Categories = ["c0", "c1", "c2", "c3", "c4"];

    /// <summary>One configured feature of each kind and side, lists longer than one value included.</summary>
    public static readonly FeatureSchema Features = new(
    [
        new FeatureField("segment", FeatureSide.Context, FeatureKind.Categorical, Buckets: 64, MaxValues: 2),
        new FeatureField("affinity", FeatureSide.Context, FeatureKind.Numeric),
        new FeatureField("tags", FeatureSide.Candidate, FeatureKind.Categorical, Buckets: 128, MaxValues: 3),
        new FeatureField("price", FeatureSide.Candidate, FeatureKind.Numeric, Transform: FeatureTransform.Log1p),
    ]);

    /// <summary>
    /// <paramref name="request"/> with random values of <see cref="Features"/>: each sometimes absent, lists of 0 to 4
    /// values (beyond MaxValues too), numbers as well as strings for categorical values, and a name no schema knows.
    /// </summary>
    public static RankingInput WithFeatures(RankingInput request, Random rng)
    {
        var context = new Dictionary<string, JsonElement> { ["unknown"] = JsonSerializer.SerializeToElement("x") };
        if (rng.Next(4) > 0)
        {
            context["segment"] = rng.Next(2) == 0 ? JsonSerializer.SerializeToElement("s" + rng.Next(6)) : JsonSerializer.SerializeToElement(new object[] { rng.Next(6), "s" + rng.Next(6), "s9" });
        }

        if (rng.Next(4) > 0)
        {
            context["affinity"] = JsonSerializer.SerializeToElement(Math.Round(rng.NextDouble() * 4 - 2, 3));
        }

        return request with
        {
            Context = request.Context with { Features = context },
            Ads = [.. request.Ads.Select(a =>
            {
                var features = new Dictionary<string, JsonElement>
                {
                    ["tags"] = JsonSerializer.SerializeToElement(Enumerable.Range(0, rng.Next(5)).Select(_ => "t" + rng.Next(12)).ToArray()),
                };
                if (rng.Next(4) > 0)
                {
                    features["price"] = JsonSerializer.SerializeToElement(Math.Round(rng.NextDouble() * 800, 2));
                }

                return a with { Features = features };
            })],
        };
    }

    /// <summary>
    /// <paramref name="count"/> requests of 1 to <paramref name="candidates"/> ads, from no events to more than the 16
    /// a model reads, some ads with a precomputed representation; with <paramref name="embedding"/>, a served embedding each.
    /// </summary>
    public static RankingInput[] Requests(Random rng, int count, int candidates, bool embedding = false) =>
    [
        .. Enumerable.Range(0, count).Select(r =>
        {
            var events = r == 0 ? 0 : rng.Next(0, 24);
            return new RankingInput
            {
                UserId = "u" + rng.Next(40),
                Context = new RankContext { Surface = rng.Next(2) == 0 ? "feed" : "reels", Device = rng.Next(2) == 0 ? "ios" : "android", Hour = rng.Next(24) },
                At = Now,
                Recent = [.. Enumerable.Range(0, events).Select(i => new RecentEvent
                {
                    Category = Categories[rng.Next(Categories.Length)],
                    Kind = (UserActionKind)rng.Next(3),
                    OccurredAt = Now - TimeSpan.FromSeconds(rng.Next(1, 100_000)),
                }).OrderBy(e => e.OccurredAt)],
                UserEmbedding = embedding ? [.. Enumerable.Range(0, FeatureSpace.UserEmbeddingDimension).Select(_ => (float)(rng.NextDouble() * 2 - 1))] : null,
                Ads = [.. Enumerable.Range(0, rng.Next(1, candidates + 1)).Select(_ => new AdInput(
                    "a" + rng.Next(300),
                    Categories[rng.Next(Categories.Length)],
                    rng.Next(2) == 0 ? [.. Enumerable.Range(0, FeatureSpace.PrecomputedDimension).Select(_ => (float)rng.NextDouble())] : null))],
            };
        }),
    ];
}
