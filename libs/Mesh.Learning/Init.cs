namespace Mesh.Learning;

/// <summary>Seeded weight initialisation: the same <see cref="Random"/> seed gives the same weights on every machine.</summary>
public static class Init
{
    /// <summary>Normal(<paramref name="mean"/>, <paramref name="std"/>²) by Box-Muller.</summary>
    public static void Normal(Span<float> values, Random rng, float std, float mean = 0f)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = mean + std * (float)Gaussian(rng);
        }
    }

    /// <summary>Uniform on [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static void Uniform(Span<float> values, Random rng, float low, float high)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = low + (high - low) * (float)rng.NextDouble();
        }
    }

    /// <summary>Glorot/Xavier uniform: U(±sqrt(6 / (fanIn + fanOut))), for layers followed by no or a saturating activation.</summary>
    public static void XavierUniform(Span<float> values, int fanIn, int fanOut, Random rng)
    {
        var limit = MathF.Sqrt(6f / (fanIn + fanOut));
        Uniform(values, rng, -limit, limit);
    }

    /// <summary>He/Kaiming normal: N(0, 2 / fanIn), for layers followed by ReLU or GELU.</summary>
    public static void HeNormal(Span<float> values, int fanIn, Random rng) => Normal(values, rng, MathF.Sqrt(2f / fanIn));

    /// <summary>One standard normal draw.</summary>
    public static double Gaussian(Random rng)
    {
        var u1 = 1.0 - rng.NextDouble();
        var u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
