using Mesh.Learning.Metrics;

namespace Mesh.World.Tests;

// The NE arithmetic is BinaryMetrics' (tested in Mesh.Learning.Tests); these check the snapshot the driver reports.
public class NeTests
{
    [Fact]
    public void Of_CoinFlipOnOneInFour_IsLn2OverEntropyOfQuarter()
    {
        var metrics = new BinaryMetrics();
        metrics.Add([0.5f, 0.5f, 0.5f, 0.5f], [1f, 0f, 0f, 0f]);

        // Mean log loss ln 2 = 0.693147; H(0.25) = -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335.
        var ne = Ne.Of(metrics);
        Assert.Equal(4, ne.Count);
        Assert.Equal(1, ne.Positives);
        Assert.Equal(0.25, ne.Ctr);
        Assert.Equal(0.562335, ne.BaseEntropy, 6);
        Assert.Equal(1.232623, ne.Value, 6);
    }

    [Fact]
    public void Value_EmptyOrOneLabelOnly_IsNaN()
    {
        var metrics = new BinaryMetrics();
        Assert.True(double.IsNaN(Ne.Of(metrics).Value));

        metrics.Add(0.1f, 0f);
        Assert.True(double.IsNaN(Ne.Of(metrics).Value));
    }

    [Fact]
    public void BaseRate_AnyCounts_IsOne()
    {
        Assert.Equal(1.0, Ne.BaseRate(1000, 37).Value, 12);
        Assert.Equal(1.0, Ne.BaseRate(3, 1).Value, 12);
        Assert.True(double.IsNaN(Ne.BaseRate(0, 0).Value));
    }
}
