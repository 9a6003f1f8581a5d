namespace Mesh.Learning.Tests.Ops;

// Every op's backward against GradCheck on random shapes; three seeds each.
public class OpGradientTests
{
    public static TheoryData<int> Seeds => [1, 2, 3];

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Linear_RandomShapes_MatchesFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int b = rng.Next(1, 4), t = rng.Next(1, 4), d = rng.Next(1, 7), h = rng.Next(1, 7);
        var x = TestData.Normal("x", rng, 1f, b, t, d);
        var w = TestData.Normal("w", rng, 1f, d, h);
        var bias = TestData.Normal("b", rng, 1f, h);

        GradCheck.Check(g => g.Linear(x.Value, w.Value, bias.Value), [x, w, bias], seed);
        GradCheck.Check(g => g.MatMul(x.Value, w.Value), [x, w], seed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void AddMulScale_RandomShapes_MatchFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int n = rng.Next(1, 5), d = rng.Next(1, 8);
        var a = TestData.Normal("a", rng, 1f, n, d);
        var b = TestData.Normal("b", rng, 1f, n, d);
        var row = TestData.Normal("row", rng, 1f, d);

        GradCheck.Check(g => g.Add(a.Value, b.Value), [a, b], seed);
        GradCheck.Check(g => g.Add(a.Value, row.Value), [a, row], seed);
        GradCheck.Check(g => g.Mul(a.Value, b.Value), [a, b], seed);
        GradCheck.Check(g => g.Mul(a.Value, a.Value), [a], seed);
        GradCheck.Check(g => g.Scale(a.Value, -2.5f), [a], seed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Activations_RandomShapes_MatchFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int n = rng.Next(1, 5), d = rng.Next(1, 9);
        var x = TestData.AwayFromZero("x", rng, 0.05f, n, d);
        var wide = TestData.Normal("wide", rng, 3f, n, d);

        GradCheck.Check(g => g.Relu(x.Value), [x], seed);
        GradCheck.Check(g => g.Gelu(wide.Value), [wide], seed);
        GradCheck.Check(g => g.Sigmoid(wide.Value), [wide], seed);
        GradCheck.Check(g => g.Tanh(x.Value), [x], seed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void LayerNormAndSoftmax_RandomShapes_MatchFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int b = rng.Next(1, 4), t = rng.Next(1, 3), d = rng.Next(2, 9);
        var x = TestData.Normal("x", rng, 2f, b, t, d);
        var gamma = TestData.Normal("gamma", rng, 1f, d);
        var beta = TestData.Normal("beta", rng, 1f, d);

        GradCheck.Check(g => g.LayerNorm(x.Value, gamma.Value, beta.Value), [x, gamma, beta], seed);
        GradCheck.Check(g => g.Softmax(x.Value), [x], seed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Attention_RandomShapesAndHeads_MatchesFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int heads = rng.Next(1, 3), dh = rng.Next(1, 4), b = rng.Next(1, 3), tq = rng.Next(1, 4), tk = rng.Next(1, 5);
        var d = heads * dh;
        var q = TestData.Normal("q", rng, 1f, b, tq, d);
        var k = TestData.Normal("k", rng, 1f, b, tk, d);
        var v = TestData.Normal("v", rng, 1f, b, tk, d);

        GradCheck.Check(g => g.Attention(q.Value, k.Value, v.Value, heads), [q, k, v], seed);
        // Self-attention on one tensor: the three gradient paths add up.
        var x = TestData.Normal("x", rng, 1f, b, tk, d);
        GradCheck.Check(g => g.Attention(x.Value, x.Value, x.Value, heads), [x], seed);
    }

    [Fact]
    public void Attention_LargeBatchOnTwoThreads_SameAsOneThreadBitForBit()
    {
        // 301 entries x 2 heads x 8 x 8 x 16 is past the size at which threads split the batch (an odd count, unevenly).
        var rng = new Random(7);
        var q = TestData.Normal("q", rng, 1f, 301, 8, 32).Value;
        var k = TestData.Normal("k", rng, 1f, 301, 8, 32).Value;
        var v = TestData.Normal("v", rng, 1f, 301, 8, 32).Value;
        var mask = Tensor.From([.. Enumerable.Range(0, 301 * 8).Select(i => i % 5 == 4 ? 0f : 1f)], 301, 8);

        var one = new Graph(training: false) { GemmThreads = 1 }.Attention(q, k, v, 2, mask).Span.ToArray();
        var two = new Graph(training: false) { GemmThreads = 2 }.Attention(q, k, v, 2, mask).Span.ToArray();

        Assert.Equal(one, two);
    }

    [Fact]
    public void Attention_PaddedKeys_GetNoWeightAndAllPaddedRowIsZero()
    {
        var rng = new Random(5);
        var q = TestData.Normal("q", rng, 1f, 2, 3, 4);
        var k = TestData.Normal("k", rng, 1f, 2, 4, 4);
        var v = TestData.Normal("v", rng, 1f, 2, 4, 4);
        // Batch 0: the last key is padding; batch 1: every key is.
        var mask = Tensor.From([1, 1, 1, 0, 0, 0, 0, 0], 2, 4);

        var analytic = GradCheck.Check(g => g.Attention(q.Value, k.Value, v.Value, 2, mask), [q, k, v], 5);

        var y = new Graph(training: false).Attention(q.Value, k.Value, v.Value, 2, mask);
        Assert.All(y.Span[12..].ToArray(), value => Assert.Equal(0f, value));
        Assert.All(analytic[2].AsSpan(12, 4).ToArray(), value => Assert.Equal(0f, value)); // padded key's value
        Assert.All(analytic[2].AsSpan(16).ToArray(), value => Assert.Equal(0f, value));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void ExpandConcatSliceReshape_RandomShapes_MatchFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int n = rng.Next(1, 4), d1 = rng.Next(1, 5), d2 = rng.Next(1, 5), batch = rng.Next(1, 4);
        var a = TestData.Normal("a", rng, 1f, n, d1);
        var b = TestData.Normal("b", rng, 1f, n, d2);
        var start = rng.Next(0, d1 + d2);
        var length = rng.Next(1, d1 + d2 - start + 1);

        GradCheck.Check(g => g.Expand(a.Value, batch), [a], seed);
        GradCheck.Check(g => g.Concat(a.Value, b.Value, a.Value), [a, b], seed);
        GradCheck.Check(g => g.Slice(g.Concat(a.Value, b.Value), start, length), [a, b], seed);
        // A reshaped view passes gradients straight to the tensor it views.
        GradCheck.Check(g => g.Mul(g.Reshape(a.Value, new Shape(n * d1)), g.Reshape(a.Value, new Shape(n * d1))), [a], seed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Gather_RandomRowsWithRepeats_MatchFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int r = rng.Next(1, 5), d = rng.Next(1, 6), n = rng.Next(1, 9);
        var x = TestData.Normal("x", rng, 1f, r, d);
        var rows = Enumerable.Range(0, n).Select(_ => rng.Next(r)).ToArray();

        GradCheck.Check(g => g.Gather(x.Value, rows), [x], seed);
    }

    [Fact]
    public void Gather_CopiesTheNamedRowsAndRefusesAnIndexOutside()
    {
        var x = Tensor.From([1, 2, 3, 4, 5, 6], 3, 2);
        var graph = new Graph(training: false);

        Assert.Equal([5f, 6f, 1f, 2f, 5f, 6f], graph.Gather(x, new[] { 2, 0, 2 }).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => graph.Gather(x, new[] { 3 }));
    }

    [Fact]
    public void StopGradient_BlocksOnlyTheStoppedPath()
    {
        var rng = new Random(11);
        var x = TestData.Normal("x", rng, 1f, 3, 4);
        var c = TestData.Normal("c", rng, 1f, 3, 4);

        // Through x the product is an ordinary product; through stop(c) nothing flows back.
        GradCheck.Check(g => g.Mul(x.Value, g.StopGradient(c.Value)), [x], 11);
        c.ZeroGrad();
        var graph = new Graph();
        graph.Backward(graph.Sum(graph.Mul(x.Value, graph.StopGradient(c.Value))));
        Assert.All(c.GradToDense(), value => Assert.Equal(0f, value));
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.25f)]
    [InlineData(-3f)]
    public void ScaleGradient_IdentityForward_ScalesTheCheckedGradient(float factor)
    {
        var rng = new Random(13);
        var x = TestData.Normal("x", rng, 1f, 2, 5);
        Tensor Forward(Graph g) => g.Tanh(g.ScaleGradient(g.Tanh(x.Value), factor));

        var (analytic, numeric, _) = GradCheck.Run(Forward, [x], 13);

        // The numerical gradient sees the identity; the backward pass is scaled by the factor.
        Assert.True(GradCheck.RelativeError(analytic[0], [.. numeric[0].Select(v => v * factor)]) < 1e-3);
        var graph = new Graph();
        Assert.Equal(x.Value.ToArray(), graph.ScaleGradient(x.Value, factor).ToArray());
    }

    // ExFM's auxiliary head: one backbone h feeds a serving branch directly and a distillation branch through
    // ScaleGradient(h, β). The backward pass must give d(serving)/dx + β·d(distillation)/dx, each checked numerically.
    [Theory]
    [InlineData(1f)]
    [InlineData(20f)]
    [InlineData(0f)]
    public void ScaleGradient_OnOneOfTwoBranches_ScalesOnlyThatBranchsShare(float beta)
    {
        var rng = new Random(17);
        var x = TestData.Normal("x", rng, 1f, 3, 4);
        var a = TestData.Normal("a", rng, 1f, 3, 4);
        var b = TestData.Normal("b", rng, 1f, 3, 4);
        Tensor Serving(Graph g) => g.Mul(g.Tanh(x.Value), a.Value);
        Tensor Distillation(Graph g, float factor) => g.Mul(g.Tanh(g.ScaleGradient(g.Tanh(x.Value), factor)), b.Value);

        var (analytic, _, _) = GradCheck.Run(g => g.Add(Serving(g), Distillation(g, beta)), [x], 17);
        var serving = GradCheck.Check(Serving, [x], 17)[0];
        var distillation = GradCheck.Check(g => Distillation(g, 1f), [x], 17)[0];

        var expected = serving.Zip(distillation, (s, d) => (double)s + (beta * d)).ToArray();
        Assert.True(GradCheck.RelativeError(analytic[0], expected) < 1e-5, $"β = {beta}");
    }

    // The student adapter's target: a stop-gradient of its prediction enters the student's loss as a constant, so the
    // adapter's weights get nothing from it while the student's gradient is the ordinary one.
    [Fact]
    public void StopGradient_OfATargetBranch_LeavesItsWeightsWithoutGradient()
    {
        var rng = new Random(19);
        var student = TestData.Normal("student", rng, 1f, 6);
        var adapter = TestData.Normal("adapter", rng, 1f, 6);
        Tensor Loss(Graph g) => g.BceWithLogits(student.Value, g.StopGradient(g.Sigmoid(adapter.Value)));

        GradCheck.Check(Loss, [student], 19);
        adapter.ZeroGrad();
        var graph = new Graph();
        graph.Backward(Loss(graph));
        Assert.All(adapter.GradToDense(), value => Assert.Equal(0f, value));
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void EmbeddingBag_SumAndMeanWithPaddingAndEmptyBags_MatchesFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        int rows = rng.Next(3, 8), d = rng.Next(1, 5), bags = rng.Next(1, 5);
        var table = new Parameter("table", new Shape(rows, d), sparse: true);
        Init.Normal(table.Value.Span, rng, 1f);
        var offsets = new int[bags + 1];
        var ids = new List<int>();
        for (var b = 0; b < bags; b++)
        {
            var size = rng.Next(0, 4);
            for (var i = 0; i < size; i++)
            {
                ids.Add(rng.Next(-1, rows)); // -1: padding
            }

            offsets[b + 1] = ids.Count;
        }

        var idArray = ids.ToArray();
        GradCheck.Check(g => g.EmbeddingBag(table, idArray, offsets, Pooling.Sum), [table], seed);
        GradCheck.Check(g => g.EmbeddingBag(table, idArray, offsets, Pooling.Mean), [table], seed);
        GradCheck.Check(g => g.Embedding(table, idArray), [table], seed);

        // Only the rows used carry a gradient.
        Assert.Equal(idArray.Where(id => id >= 0).Distinct().Count(), table.RowGrad!.Count);
    }

    [Fact]
    public void EmbeddingBag_DenseTable_AccumulatesDenseRows()
    {
        var rng = new Random(3);
        var table = TestData.Normal("dense", rng, 1f, 5, 3);
        int[] ids = [4, 0, 4, 2];

        GradCheck.Check(g => g.EmbeddingBag(table, ids, new[] { 0, 3, 4 }, Pooling.Mean), [table], 3);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void BceWithLogits_SoftLabelsAndWeights_MatchesFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        var n = rng.Next(1, 9);
        var z = TestData.Normal("z", rng, 3f, n, 1);
        var targets = Tensor.From(TestData.Uniform(rng, n, 0f, 1f), n);
        var weights = Tensor.From(TestData.Uniform(rng, n, 0.1f, 2f), n);

        GradCheck.Check(g => g.BceWithLogits(z.Value, targets), [z], seed);
        GradCheck.Check(g => g.BceWithLogits(z.Value, targets, weights), [z], seed);
        GradCheck.Check(g => g.BceWithLogits(z.Value, targets, weights, Reduction.Sum), [z], seed);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void SumAndMean_RandomShapes_MatchFiniteDifferences(int seed)
    {
        var rng = new Random(seed);
        var x = TestData.Normal("x", rng, 1f, rng.Next(1, 4), rng.Next(1, 4), rng.Next(1, 4));

        GradCheck.Check(g => g.Sum(x.Value), [x], seed);
        GradCheck.Check(g => g.Mean(x.Value), [x], seed);
    }
}
