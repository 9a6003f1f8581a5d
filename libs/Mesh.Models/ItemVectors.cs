using System.Collections.Concurrent;
using System.Numerics.Tensors;

namespace Mesh.Models;

/// <summary>
/// Fixed pseudo-random unit vectors for categories and ads, derived from their ids, so every service computes the
/// same vector with no shared table. Placeholder for learned item embeddings.
/// </summary>
public static class ItemVectors
{
    /// <summary>Length of every item and user vector.</summary>
    public const int Dimension = 32;

    private static readonly ConcurrentDictionary<string, float[]> Cache = new(StringComparer.Ordinal);

    public static float[] ForCategory(string category) => Cache.GetOrAdd("c:" + category, static k => RandomUnit(StableHash.Of(k)));

    /// <summary>An ad's vector: its category's direction plus a smaller ad-specific part.</summary>
    public static float[] ForAd(string adId, string category) => Cache.GetOrAdd("a:" + adId + "/" + category, static (k, cat) =>
    {
        var v = RandomUnit(StableHash.Of(k));
        var c = ForCategory(cat);
        for (var i = 0; i < v.Length; i++)
        {
            v[i] = c[i] + 0.35f * v[i];
        }

        Normalize(v);
        return v;
    }, category);

    private static float[] RandomUnit(ulong seed)
    {
        var random = new Random((int)(seed ^ (seed >> 32)));
        var v = new float[Dimension];
        for (var i = 0; i < v.Length; i++)
        {
            // Box-Muller: Gaussian components give a direction uniform on the sphere.
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        Normalize(v);
        return v;
    }

    private static void Normalize(float[] v)
    {
        var norm = TensorPrimitives.Norm(v);
        if (norm > 0)
        {
            TensorPrimitives.Divide(v, norm, v);
        }
    }
}
