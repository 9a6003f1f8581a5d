namespace Mesh.World;

/// <summary>The few distributions the world draws from, on a seeded <see cref="Random"/>.</summary>
internal static class RandomExtensions
{
    /// <summary>Standard normal by Box-Muller. Always consumes exactly two doubles, so draw counts stay predictable.</summary>
    public static double NextGaussian(this Random random)
    {
        var u1 = 1.0 - random.NextDouble(); // (0, 1]: keeps the log finite
        var u2 = random.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    public static double NextExponential(this Random random, double mean) => -mean * Math.Log(1.0 - random.NextDouble());

    /// <summary>Index drawn with probability proportional to <paramref name="weights"/> (non-negative, not all zero).</summary>
    public static int NextWeighted(this Random random, ReadOnlySpan<double> weights)
    {
        var total = 0.0;
        foreach (var w in weights)
        {
            total += w;
        }

        var x = random.NextDouble() * total;
        for (var i = 0; i < weights.Length; i++)
        {
            x -= weights[i];
            if (x < 0)
            {
                return i;
            }
        }

        return weights.Length - 1;
    }

    public static void Shuffle<T>(this Random random, IList<T> items)
    {
        for (var i = items.Count - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}

/// <summary>Independent seeds for the world's random streams, so that one stream's draws never shift another's.</summary>
internal static class Seeds
{
    public const int Population = 1;
    public const int AdChurn = 2;
    public const int Traffic = 3;
    public const int Driver = 4;
    public const int UserDrift = 5;
    public const int Realistic = 6;

    /// <summary>SplitMix64 over (seed, stream, index), folded to a non-negative int for <see cref="Random(int)"/>.</summary>
    public static int Derive(int seed, int stream, long index = 0)
    {
        var z = Mix((ulong)(uint)seed);
        z = Mix(z ^ unchecked((ulong)stream * 0xD1B54A32D192ED03UL));
        z = Mix(z ^ (ulong)index);
        return (int)(z & 0x7FFFFFFF);
    }

    private static ulong Mix(ulong z)
    {
        z = unchecked(z + 0x9E3779B97F4A7C15UL);
        z = unchecked((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL);
        z = unchecked((z ^ (z >> 27)) * 0x94D049BB133111EBUL);
        return z ^ (z >> 31);
    }
}
