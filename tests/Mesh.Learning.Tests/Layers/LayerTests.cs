using Mesh.Learning.Layers;

namespace Mesh.Learning.Tests.Layers;

// The layers the models are built from, checked end to end (every parameter) with GradCheck.
public class LayerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void CrossNetwork_AllParameters_MatchFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        var cross = new CrossNetwork("cross", 5, 2, rng);
        var x = TestData.Normal("x", rng, 1f, 3, 5);

        GradCheck.Check(g => cross.Forward(g, x.Value), [x, .. cross.Parameters], seed);
    }

    [Fact]
    public void Mlp_WithLayerNormAndGelu_MatchesFiniteDifferences()
    {
        var rng = new Random(4);
        var mlp = new Mlp("mlp", [4, 6, 3], rng, Activation.Gelu);
        var norm = new LayerNorm("norm", 3);
        var x = TestData.Normal("x", rng, 1f, 2, 4);

        GradCheck.Check(g => norm.Forward(g, mlp.Forward(g, x.Value)), [x, .. mlp.Parameters, .. norm.Parameters], 4);
    }

    [Fact]
    public void MultiHeadSelfAttention_WithMask_MatchesFiniteDifferences()
    {
        var rng = new Random(6);
        var attention = new MultiHeadSelfAttention("mhsa", 4, 2, rng);
        var x = TestData.Normal("x", rng, 1f, 2, 3, 4);
        var mask = Tensor.From([1, 1, 0, 1, 0, 0], 2, 3);

        GradCheck.Check(g => attention.Forward(g, x.Value, mask), [x, .. attention.Parameters], 6);
    }

    [Fact]
    public void AttentionPooling_OverEmbeddedSequence_MatchesFiniteDifferences()
    {
        var rng = new Random(8);
        var table = new EmbeddingTable("items", 6, 4, rng);
        var pooling = new AttentionPooling("pool", 4, 2, 2, rng);
        // Two sequences of 3 events; -1 pads the second one.
        int[] ids = [1, 4, 4, 2, -1, -1];
        var mask = Tensor.From([1, 1, 1, 1, 0, 0], 2, 3);

        GradCheck.Check(g => pooling.Forward(g, g.Reshape(table.Lookup(g, ids), new Shape(2, 3, 4)), mask),
            [.. table.Parameters, .. pooling.Parameters], 8);
        Assert.Equal(8, pooling.OutputDim);
    }

    [Fact]
    public void Module_ParameterNames_AreDottedAndUnique()
    {
        var mlp = new Mlp("tower", [3, 4, 1], new Random(1));

        Assert.Equal(["tower.0.w", "tower.0.b", "tower.1.w", "tower.1.b"], mlp.Parameters.Select(p => p.Name));
    }
}
