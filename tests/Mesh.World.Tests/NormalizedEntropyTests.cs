namespace Mesh.World.Tests;

public class NormalizedEntropyTests
{
    [Fact]
    public void Value_CoinFlipOnBalancedLabels_IsOne()
    {
        var ne = new NormalizedEntropy();
        ne.Add(0.5, true);
        ne.Add(0.5, false);

        Assert.Equal(1.0, ne.Snapshot().Value, 12);
    }

    [Fact]
    public void Value_CoinFlipOnOneInFour_IsLn2OverEntropyOfQuarter()
    {
        var ne = new NormalizedEntropy();
        ne.Add(0.5, true);
        ne.Add(0.5, false);
        ne.Add(0.5, false);
        ne.Add(0.5, false);

        // Mean log loss ln 2 = 0.693147; H(0.25) = -(0.25 ln 0.25 + 0.75 ln 0.75) = 0.562335.
        var snapshot = ne.Snapshot();
        Assert.Equal(0.25, snapshot.Ctr);
        Assert.Equal(0.562335, snapshot.BaseEntropy, 6);
        Assert.Equal(1.232623, snapshot.Value, 6);
    }

    [Fact]
    public void Add_CertainAndWrong_IsClampedToFiniteLoss()
    {
        var ne = new NormalizedEntropy();
        ne.Add(0.0, true);

        Assert.Equal(-Math.Log(NormalizedEntropy.MinPrediction), ne.Snapshot().LogLossSum, 9); // 16.118
    }

    [Fact]
    public void Value_EmptyOrOneLabelOnly_IsNaN()
    {
        var ne = new NormalizedEntropy();
        Assert.True(double.IsNaN(ne.Snapshot().Value));

        ne.Add(0.1, false);
        Assert.True(double.IsNaN(ne.Snapshot().Value));
    }

    [Fact]
    public void BaseRate_AnyCounts_IsOne()
    {
        Assert.Equal(1.0, Ne.BaseRate(1000, 37).Value, 12);
        Assert.Equal(1.0, Ne.BaseRate(3, 1).Value, 12);
        Assert.True(double.IsNaN(Ne.BaseRate(0, 0).Value));
    }
}
