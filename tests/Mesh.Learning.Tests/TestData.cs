namespace Mesh.Learning.Tests;

/// <summary>Seeded random inputs for the tests.</summary>
public static class TestData
{
    /// <summary>A dense parameter with N(0, std²) values.</summary>
    public static Parameter Normal(string name, Random rng, float std, params int[] dims)
    {
        var p = new Parameter(name, new Shape(dims));
        Init.Normal(p.Value.Span, rng, std);
        return p;
    }

    /// <summary>A dense parameter with values at least <paramref name="margin"/> away from 0 (for ops with a kink there).</summary>
    public static Parameter AwayFromZero(string name, Random rng, float margin, params int[] dims)
    {
        var p = new Parameter(name, new Shape(dims));
        var span = p.Value.Span;
        for (var i = 0; i < span.Length; i++)
        {
            var magnitude = margin + (float)rng.NextDouble();
            span[i] = rng.Next(2) == 0 ? magnitude : -magnitude;
        }

        return p;
    }

    public static float[] Uniform(Random rng, int count, float low = -1f, float high = 1f)
    {
        var values = new float[count];
        Init.Uniform(values, rng, low, high);
        return values;
    }
}
