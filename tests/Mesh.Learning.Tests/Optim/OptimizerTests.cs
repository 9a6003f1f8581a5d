using Mesh.Learning.Optim;

namespace Mesh.Learning.Tests.Optim;

public class OptimizerTests
{
    [Fact]
    public void Adam_FirstStep_MovesEachWeightByLearningRateAgainstItsGradientSign()
    {
        var w = new Parameter("w", Tensor.From([1f, -2f, 3f], 3));
        new float[] { 0.5f, -4f, 0f }.CopyTo(w.Value.Grad!.Span);
        var adam = new Adam([w], learningRate: 0.1f);

        adam.Step();

        // m̂ = g and v̂ = g² after one step, so the update is lr · g / (|g| + eps).
        Assert.Equal(0.9f, w.Value[0], 1e-6f);
        Assert.Equal(-1.9f, w.Value[1], 1e-6f);
        Assert.Equal(3f, w.Value[2]);
        Assert.Equal(1, adam.Steps);
    }

    [Fact]
    public void AdamW_ZeroGradient_DecaysWeightsByLearningRateTimesDecay()
    {
        var w = new Parameter("w", Tensor.From([2f, -1f], 2));
        var adam = new Adam([w], learningRate: 0.1f, weightDecay: 0.5f);

        adam.Step();

        Assert.Equal(2f * (1 - 0.05f), w.Value[0], 1e-6f);
        Assert.Equal(-1f * (1 - 0.05f), w.Value[1], 1e-6f);
    }

    [Fact]
    public void Adam_SparseParameter_IsRejected()
    {
        var table = new Parameter("t", new Shape(4, 2), sparse: true);

        Assert.Throws<ArgumentException>(() => new Adam([table]));
    }

    [Fact]
    public void RowwiseAdagrad_UpdatesOnlyTouchedRows()
    {
        var table = new Parameter("t", new Shape(4, 2), sparse: true);
        table.Value.Span.Fill(1f);
        table.RowGrad!.Accumulate(2)[0] = 3f;
        table.RowGrad.Accumulate(2)[1] = 4f;
        var adagrad = new RowwiseAdagrad([table], learningRate: 0.5f);

        adagrad.Step();

        // G = mean(g²) = 12.5; w -= 0.5 · g / sqrt(12.5).
        var step = 0.5f / MathF.Sqrt(12.5f);
        Assert.Equal([1f, 1f, 1f, 1f, 1f - 3 * step, 1f - 4 * step, 1f, 1f], table.Value.ToArray(), new FloatTolerance(1e-6f));
        Assert.Equal(0, table.RowGrad.Count);
        Assert.Equal(12.5f, adagrad.State().Single().Value[2], 1e-5f);
    }

    [Fact]
    public void ClipGlobalNorm_AboveMax_ScalesDenseAndSparseToMax()
    {
        var w = new Parameter("w", Tensor.From([0f, 0f], 2));
        new float[] { 3f, 0f }.CopyTo(w.Value.Grad!.Span);
        var table = new Parameter("t", new Shape(3, 1), sparse: true);
        table.RowGrad!.Accumulate(1)[0] = 4f;

        var norm = GradientClipping.ClipGlobalNorm([w, table], 1.0);

        Assert.Equal(5.0, norm, 1e-9);
        Assert.Equal(0.6f, w.Value.Grad[0], 1e-6f);
        Assert.Equal(0.8f, table.RowGrad.Values(0)[0], 1e-6f);
    }

    [Fact]
    public void ClipGlobalNorm_BelowMax_LeavesGradients()
    {
        var w = new Parameter("w", Tensor.From([0f], 1));
        w.Value.Grad![0] = 0.5f;

        GradientClipping.ClipGlobalNorm([w], 1.0);

        Assert.Equal(0.5f, w.Value.Grad[0]);
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;

        public int GetHashCode(float obj) => 0;
    }

    [Fact]
    public void WeightAverage_StartsAsACopyAndFollowsTheWarmUpThenTheDecay()
    {
        var w = new Parameter("w", Tensor.From([1f, 2f], 2));
        var table = new Parameter("t", Tensor.From([4f, 0f, 0f, 8f], 2, 2), sparse: true);
        var avgW = new Parameter("w", new Shape(2));
        var avgTable = new Parameter("t", new Shape(2, 2), sparse: true);
        var average = new WeightAverage([w, table], [avgW, avgTable], decay: 0.5f);
        Assert.Equal([1f, 2f], avgW.Value.Span.ToArray());
        Assert.Equal([4f, 0f, 0f, 8f], avgTable.Value.Span.ToArray());

        // Update n keeps min(0.5, (1 + n) / (10 + n)) of the average: 0.1, 0.1818..., then 0.5 from n = 8 on.
        w.Value[0] = 11f;
        average.Update();
        Assert.Equal(1f + (0.9f * 10f), avgW.Value[0], 1e-5f);
        Assert.Equal(2f, avgW.Value[1], 1e-6f);

        for (var n = 1; n < 8; n++)
        {
            average.Update();
        }

        var before = avgW.Value[0];
        table.Value[0] = 0f; // a row the optimizer moved: the table is averaged like any weight
        average.Update();
        Assert.Equal(0.5f * (before + 11f), avgW.Value[0], 1e-5f);
        Assert.Equal(0.5f * (4f + 0f), avgTable.Value[0], 1e-6f);
        Assert.Equal(8f, avgTable.Value[3], 1e-6f);
        Assert.Equal(9, average.Updates);
    }

    [Fact]
    public void WeightAverage_MismatchedParametersOrDecay_AreRejected()
    {
        var w = new Parameter("w", new Shape(2));
        Assert.Throws<ArgumentException>(() => new WeightAverage([w], [new Parameter("w", new Shape(3))], 0.9f));
        Assert.Throws<ArgumentException>(() => new WeightAverage([w], [new Parameter("v", new Shape(2))], 0.9f));
        Assert.Throws<ArgumentException>(() => new WeightAverage([w], [], 0.9f));
        Assert.Throws<ArgumentOutOfRangeException>(() => new WeightAverage([w], [new Parameter("w", new Shape(2))], 1f));
    }
}
