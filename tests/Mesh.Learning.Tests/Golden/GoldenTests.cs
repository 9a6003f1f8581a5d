using System.Text.Json;

namespace Mesh.Learning.Tests.Golden;

// Forward values against golden.json, written by generate.py beside it (independent, double precision).
public class GoldenTests
{
    private static readonly JsonElement Root = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", "golden.json"))).RootElement;

    [Fact]
    public void LayerNorm_MatchesGolden()
    {
        var c = Root.GetProperty("layerNorm");
        var shape = Ints(c, "shape");
        var g = new Graph(training: false);

        var y = g.LayerNorm(Tensor.From(Floats(c, "x"), shape), Tensor.From(Floats(c, "gamma"), shape[1]), Tensor.From(Floats(c, "beta"), shape[1]), (float)c.GetProperty("eps").GetDouble());

        AssertClose(Doubles(c, "y"), y.ToArray(), 1e-5);
    }

    [Fact]
    public void Gelu_MatchesGolden()
    {
        var c = Root.GetProperty("gelu");
        var x = Floats(c, "x");

        var y = new Graph(training: false).Gelu(Tensor.From(x, x.Length));

        AssertClose(Doubles(c, "y"), y.ToArray(), 1e-5);
    }

    [Fact]
    public void AttentionWithMask_MatchesGolden()
    {
        var c = Root.GetProperty("attention");
        int b = c.GetProperty("b").GetInt32(), tq = c.GetProperty("tq").GetInt32(), tk = c.GetProperty("tk").GetInt32(), d = c.GetProperty("d").GetInt32();
        var mask = Ints(c, "mask").Select(m => (float)m).ToArray();

        var y = new Graph(training: false).Attention(Tensor.From(Floats(c, "q"), b, tq, d), Tensor.From(Floats(c, "k"), b, tk, d),
            Tensor.From(Floats(c, "v"), b, tk, d), c.GetProperty("heads").GetInt32(), Tensor.From(mask, b, tk));

        AssertClose(Doubles(c, "y"), y.ToArray(), 1e-5);
    }

    [Fact]
    public void BceWithLogitsSoftLabels_MatchesGoldenLossAndGradient()
    {
        var c = Root.GetProperty("bce");
        var logits = new Parameter("z", Tensor.From(Floats(c, "logits"), 6));
        var targets = Tensor.From(Floats(c, "targets"), 6);
        var weights = Tensor.From(Floats(c, "weights"), 6);

        var g = new Graph();
        var mean = g.BceWithLogits(logits.Value, targets, weights);
        var sum = new Graph(training: false).BceWithLogits(logits.Value, targets, weights, Reduction.Sum);
        g.Backward(mean);

        AssertClose([c.GetProperty("mean").GetDouble()], [mean[0]], 1e-6);
        AssertClose([c.GetProperty("sum").GetDouble()], [sum[0]], 1e-6);
        AssertClose(Doubles(c, "gradMean"), logits.GradToDense(), 1e-5);
    }

    // |actual - expected| <= tolerance · max(1, |expected|): relative, with a floor for values near zero.
    private static void AssertClose(double[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: {actual[i]:G9}, golden {expected[i]:G9}");
        }
    }

    private static double[] Doubles(JsonElement e, string name) => [.. e.GetProperty(name).EnumerateArray().Select(v => v.GetDouble())];

    private static float[] Floats(JsonElement e, string name) => [.. e.GetProperty(name).EnumerateArray().Select(v => (float)v.GetDouble())];

    private static int[] Ints(JsonElement e, string name) => [.. e.GetProperty(name).EnumerateArray().Select(v => v.GetInt32())];
}
