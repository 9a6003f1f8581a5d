namespace Mesh.Bench.Tests;

public class BenchStatisticsTests
{
    [Fact]
    public void Percentile_InterpolatesBetweenTheClosestRanksOfTheSortedValues()
    {
        double[] values = [4, 1, 3, 2];

        Assert.Equal(2.5, BenchStatistics.Percentile(values, 0.5)); // an even count: the mean of the middle two
        Assert.Equal(1.3, BenchStatistics.Percentile(values, 0.1), 12);
        Assert.Equal(1, BenchStatistics.Percentile(values, 0));
        Assert.Equal(4, BenchStatistics.Percentile(values, 1));
        Assert.Equal(3, BenchStatistics.Percentile([5, 3, 1], 0.5));
    }
}
