namespace Mesh.Models;

/// <summary>FNV-1a over UTF-16 code units: stable across processes and runs, unlike <see cref="string.GetHashCode()"/>.</summary>
public static class StableHash
{
    public static ulong Of(string text, ulong seed = 14695981039346656037UL)
    {
        var h = seed;
        foreach (var c in text)
        {
            h = (h ^ c) * 1099511628211UL;
        }

        return h;
    }

    public static ulong Of(string a, string b) => Of(b, Of(a) ^ 0x9E3779B97F4A7C15UL);

    /// <summary>A bucket in [0, 2^bits).</summary>
    public static int Bucket(ulong hash, int bits) => (int)((hash * 0x9E3779B97F4A7C15UL) >> (64 - bits));
}
