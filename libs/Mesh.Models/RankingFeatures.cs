using System.Numerics.Tensors;
using Mesh.Contracts;

namespace Mesh.Models;

/// <summary>
/// Turns (user embedding, context, ad, precomputed representation) into the features of each tier: hashed one-hot
/// ids and crosses plus dense values. The ranker and the trainer share this code, which is what keeps training and
/// serving consistent: the trainer rebuilds features from the exact inputs logged with each impression.
/// </summary>
public static class RankingFeatures
{
    /// <summary>Hashed features index a table of 2^HashBits weights.</summary>
    public const int HashBits = 16;

    public const int SmallHashed = 7;
    public const int SmallDense = 1;
    public const int LargeHashed = SmallHashed + 3;

    /// <summary>Large dense: user·ad, user⊙ad (D), representation (F), hit flag.</summary>
    public const int LargeDense = 1 + ItemVectors.Dimension + FoundationModel.Dimension + 1;

    public static int HashedCount(string tier) => tier == Tiers.Small ? SmallHashed : LargeHashed;

    public static int DenseCount(string tier) => tier == Tiers.Small ? SmallDense : LargeDense;

    /// <summary>Writes the features of <paramref name="tier"/>; spans must be <see cref="HashedCount"/> and <see cref="DenseCount"/> long.</summary>
    public static void Write(string tier, in FeatureInput x, Span<int> hashed, Span<float> dense)
    {
        // An empty embedding is the router's "unknown user": the model's default vector.
        var user = x.UserEmbedding.Length == 0 ? UserEmbeddingModel.Default : x.UserEmbedding;
        var categoryVector = ItemVectors.ForCategory(x.Category);
        hashed[0] = 0; // bias
        hashed[1] = Bucket("ad", x.AdId);
        hashed[2] = Bucket("cat", x.Category);
        hashed[3] = Bucket("surface×cat", x.Context.Surface, x.Category);
        hashed[4] = Bucket("device×cat", x.Context.Device, x.Category);
        hashed[5] = Bucket("surface", x.Context.Surface);
        hashed[6] = Bucket("hour×cat", HourBucket(x.Context.Hour), x.Category);
        dense[0] = TensorPrimitives.Dot(user, categoryVector);
        if (tier == Tiers.Small)
        {
            return;
        }

        hashed[7] = Bucket("ad×surface", x.AdId, x.Context.Surface);
        hashed[8] = Bucket("device", x.Context.Device);
        hashed[9] = Bucket(x.Precomputed is null ? "fm-miss" : "fm-hit", x.Context.Surface);

        var adVector = ItemVectors.ForAd(x.AdId, x.Category);
        var d = dense[1..];
        TensorPrimitives.Multiply(user, adVector, d[..ItemVectors.Dimension]);
        var fm = d.Slice(ItemVectors.Dimension, FoundationModel.Dimension);
        if (x.Precomputed is { } p)
        {
            p.AsSpan(0, FoundationModel.Dimension).CopyTo(fm);
        }
        else
        {
            // A miss is zeros plus the flag: the same thing the model saw in training for a miss.
            fm.Clear();
        }

        d[ItemVectors.Dimension + FoundationModel.Dimension] = x.Precomputed is null ? 0f : 1f;
    }

    private static string HourBucket(int hour) => (hour / 4) switch
    {
        0 => "night",
        1 => "early",
        2 => "morning",
        3 => "midday",
        4 => "evening",
        _ => "late",
    };

    // Index 0 is reserved for the bias.
    private static int Bucket(string name, string value) => Math.Max(1, StableHash.Bucket(StableHash.Of(name, value), HashBits));

    private static int Bucket(string name, string a, string b) => Math.Max(1, StableHash.Bucket(StableHash.Of(b, StableHash.Of(name, a)), HashBits));
}

/// <summary>The inputs of one (request, candidate) pair. <see cref="UserEmbedding"/> is empty for an unknown user.</summary>
public readonly record struct FeatureInput(float[] UserEmbedding, RankContext Context, string AdId, string Category, float[]? Precomputed);
