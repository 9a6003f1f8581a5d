namespace Mesh.Runtime.Tests;

public class RecentSamplesTests
{
    [Fact]
    public void Summarize_Empty_Zeros()
    {
        Assert.Equal(default, new RecentSamples(4).Summarize(digits: 1));
    }

    [Fact]
    public void Summarize_MoreThanCapacity_PercentilesOfTheNewestMeanOfAll()
    {
        var samples = new RecentSamples(capacity: 4);
        foreach (var value in new[] { 100.0, 1, 4, 2, 3 })
        {
            samples.Add(value);
        }

        var summary = samples.Summarize(digits: 1);

        // The window holds 1, 4, 2, 3 (100 was overwritten); the mean counts all five.
        Assert.Equal(5, samples.Count);
        Assert.Equal(new SampleSummary(Mean: 22, P50: 3, P90: 4, P99: 4, Max: 4), summary);
    }

    [Fact]
    public void Summarize_Digits_RoundsEveryFigure()
    {
        var samples = new RecentSamples();
        samples.Add(1.23456);

        Assert.Equal(new SampleSummary(1.235, 1.235, 1.235, 1.235, 1.235), samples.Summarize(digits: 3));
    }
}
