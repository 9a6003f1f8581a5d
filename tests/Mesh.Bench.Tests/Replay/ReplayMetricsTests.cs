using Mesh.Bench.Replay;

namespace Mesh.Bench.Tests.Replay;

public class ReplayMetricsTests
{
    [Fact]
    public void Of_AucWithTies_CountsTiesAsHalf()
    {
        // Positives 0.4 and 0.8 against negatives 0.1 and 0.4: pairs won 1 + 0.5 (tie) + 1 + 1 = 3.5 of 4.
        var m = ReplayMetrics.Of([0.1f, 0.4f, 0.4f, 0.8f], [0f, 0f, 1f, 1f]);

        Assert.Equal(0.875, m.Auc, 12);
        Assert.Equal(4, m.Count);
        Assert.Equal(2, m.Clicks);
        Assert.Equal((0.1 + 0.4 + 0.4 + 0.8) / 2, m.Calibration, 5);
    }

    [Fact]
    public void Of_ConstantAtTheRangesRate_IsNeOneAndCalibrated()
    {
        var m = ReplayMetrics.Of([0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f, 0.25f], [1f, 0f, 0f, 0f, 0f, 1f, 0f, 0f]);

        Assert.Equal(1.0, m.Ne, 6);
        Assert.Equal(1.0, m.Calibration, 6);
        Assert.Equal(0.5, m.Auc, 12);
    }

    [Fact]
    public void Of_OneLabelOnly_NeAndAucAreNaN()
    {
        var m = ReplayMetrics.Of([0.1f, 0.2f], [0f, 0f]);

        Assert.True(double.IsNaN(m.Ne));
        Assert.True(double.IsNaN(m.Auc));
        Assert.True(double.IsNaN(m.Calibration));
    }

    [Fact]
    public void Rolling_Windows_EachAgainstItsOwnRate()
    {
        // First four: a constant 0.5 on a 50% window (NE 1); last four: perfect-ish 0.25 on a 25% window (NE 1).
        float[] p = [0.5f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f, 0.25f];
        float[] y = [1f, 0f, 1f, 0f, 0f, 1f, 0f, 0f];

        var points = ReplayMetrics.Rolling(p, y, window: 4, points: 5);

        Assert.Equal([4, 5, 6, 7, 8], points.Select(x => x.End));
        Assert.Equal(1.0, points[0].Ne, 6);
        Assert.Equal(1.0, points[^1].Ne, 6);
        Assert.Equal(ReplayMetrics.Of(p.AsSpan(2, 4), y.AsSpan(2, 4)).Ne, points[2].Ne, 5);
    }

    [Fact]
    public void Rolling_WindowLargerThanTheStream_IsEmpty() =>
        Assert.Empty(ReplayMetrics.Rolling([0.5f], [1f], window: 2, points: 10));
}
