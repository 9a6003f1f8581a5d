using Mesh.Contracts;
using Mesh.Models.Features;
using Microsoft.ML.OnnxRuntime;

namespace Mesh.Onnx.Tests;

/// <summary>Seeded requests, and a batch's arrays as the ONNX inputs of the same names.</summary>
internal static class Batches
{
    private static readonly DateTimeOffset Now = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);
    private static readonly string[] Categories = ["c0", "c1", "c2", "c3", "c4"];

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

    /// <summary>The batch's array behind an input name, as a tensor over that array (no copy).</summary>
    public static OrtValue Input(RankingBatch batch, string name)
    {
        const int T = FeatureSpace.SequenceLength;
        long r = batch.Requests, n = batch.Candidates;
        return name switch
        {
            OnnxNames.UserIds => Ints(batch.UserIds, r),
            OnnxNames.Surfaces => Ints(batch.Surfaces, r),
            OnnxNames.Devices => Ints(batch.Devices, r),
            OnnxNames.Hours => Ints(batch.Hours, r),
            OnnxNames.UserEmbedding => OrtValue.CreateTensorValueFromMemory(batch.ServedEmbeddings, [r, FeatureSpace.UserEmbeddingDimension]),
            OnnxNames.RequestOf => Ints(batch.RequestOf, n),
            OnnxNames.AdIds => Ints(batch.AdIds, n),
            OnnxNames.Categories => Ints(batch.Categories, n),
            OnnxNames.Precomputed => OrtValue.CreateTensorValueFromMemory(batch.Precomputed, [n, FeatureSpace.PrecomputedDimension + 1]),
            OnnxNames.SequenceCategories => Ints(batch.SequenceCategories, r, T),
            OnnxNames.SequenceKinds => Ints(batch.SequenceKinds, r, T),
            OnnxNames.SequenceAges => Ints(batch.SequenceAges, r, T),
            _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not an input of the exported graphs"),
        };
    }

    private static OrtValue Ints(int[] values, params long[] shape) => OrtValue.CreateTensorValueFromMemory(values, shape);
}
