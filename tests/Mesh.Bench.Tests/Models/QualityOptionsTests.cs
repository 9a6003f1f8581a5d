using Mesh.Bench.Models;

namespace Mesh.Bench.Tests.Models;

public class QualityOptionsTests
{
    [Fact]
    public void Parse_NoArguments_GivesTheDocumentedDefaults()
    {
        var (options, error) = QualityOptions.Parse([]);

        Assert.Null(error);
        Assert.Equal(1_000_000, options!.Impressions);
        Assert.Equal(["lr", "small", "large", "interformer"], options.Models.Select(m => m.Key));
        Assert.Equal(32, options.BatchRequests);
        Assert.Equal(1, options.Seed);
        Assert.Equal(2_000, options.HoldoutRequests);
        Assert.Equal(10, options.ExitKeep);
        Assert.Equal([0, 0.25, 0.5, 0.75, 0.9, 1], options.Thresholds);
        Assert.Null(options.AverageDecay);
        Assert.Equal(0.99, options.PublishDecay);
        Assert.False(options.Alone);
    }

    [Fact]
    public void Parse_EveryOption_IsRead()
    {
        var (options, _) = QualityOptions.Parse(["--impressions", "20000", "--models=large,lr", "--batch-requests", "8", "--seed", "3",
            "--holdout", "0", "--exit-keep", "5", "--thresholds", "1,0.5", "--average", "0.99", "--decay", "0", "--alone", "true"]);

        Assert.Equal(20_000, options!.Impressions);
        Assert.Equal(["lr", "large"], options.Models.Select(m => m.Key)); // the catalogue's order
        Assert.Equal(8, options.BatchRequests);
        Assert.Equal(3, options.Seed);
        Assert.Equal(0, options.HoldoutRequests);
        Assert.Equal(5, options.ExitKeep);
        Assert.Equal([0.5, 1], options.Thresholds);
        Assert.Equal(0.99f, options.AverageDecay);
        Assert.Equal(0, options.PublishDecay);
        Assert.True(options.Alone);
    }

    [Theory]
    [InlineData("--impressions", "999")]
    [InlineData("--impressions", "lots")]
    [InlineData("--models", "large,gbdt")]
    [InlineData("--models", ",")]
    [InlineData("--batch-requests", "0")]
    [InlineData("--holdout", "-1")]
    [InlineData("--exit-keep", "51")]
    [InlineData("--thresholds", "0.5,1.5")]
    [InlineData("--average", "1")]
    [InlineData("--decay", "1")]
    [InlineData("--alone", "yes")]
    [InlineData("--epochs", "2")]
    public void Parse_BadValue_IsAnError(string name, string value)
    {
        var (options, error) = QualityOptions.Parse([name, value]);

        Assert.Null(options);
        Assert.Contains(name, error);
    }

    [Fact]
    public void Parse_MissingValue_IsAnError()
    {
        var (options, error) = QualityOptions.Parse(["--impressions"]);

        Assert.Null(options);
        Assert.NotNull(error);
    }
}
