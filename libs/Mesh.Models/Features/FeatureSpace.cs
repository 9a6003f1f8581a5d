using Mesh.Contracts;

namespace Mesh.Models.Features;

/// <summary>
/// How raw values become row indices of embedding tables: ids are hashed into fixed-size tables (stable across
/// processes, see <see cref="StableHash"/>), small vocabularies are indexed directly, ages are log-bucketed.
/// </summary>
public static class FeatureSpace
{
    /// <summary>Behaviour events a model reads per request (the newest ones).</summary>
    public const int SequenceLength = 16;

    /// <summary>Length of a user embedding (the user tower's output, what user-model stores and serves).</summary>
    public const int UserEmbeddingDimension = 32;

    /// <summary>Length of a precomputed (user, ad) representation.</summary>
    public const int PrecomputedDimension = FoundationModel.Dimension;

    public const int UserBuckets = 1 << 15;
    public const int AdBuckets = 1 << 14;
    public const int CategoryBuckets = 1 << 10;
    public const int ContextBuckets = 1 << 4;
    public const int Hours = 24;
    public const int Kinds = 3;

    /// <summary>Age buckets: ⌊log2(1 + seconds)⌋, capped (bucket 15 is older than about 9 hours).</summary>
    public const int AgeBuckets = 16;

    public static int User(string userId) => StableHash.Bucket(StableHash.Of("user", userId), 15);

    public static int Ad(string adId) => StableHash.Bucket(StableHash.Of("ad", adId), 14);

    public static int Category(string category) => StableHash.Bucket(StableHash.Of("category", category), 10);

    public static int Surface(string surface) => StableHash.Bucket(StableHash.Of("surface", surface), 4);

    public static int Device(string device) => StableHash.Bucket(StableHash.Of("device", device), 4);

    public static int Hour(int hour) => Math.Clamp(hour, 0, Hours - 1);

    public static int Kind(UserActionKind kind) => Math.Clamp((int)kind, 0, Kinds - 1);

    public static int Age(TimeSpan age)
    {
        var seconds = Math.Max(0, age.TotalSeconds);
        return Math.Min(AgeBuckets - 1, (int)Math.Log2(1 + seconds));
    }
}
