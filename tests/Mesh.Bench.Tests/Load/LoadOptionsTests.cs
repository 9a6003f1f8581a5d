using Mesh.Bench.Load;

namespace Mesh.Bench.Tests.Load;

public class LoadOptionsTests
{
    [Fact]
    public void Parse_NoArguments_Defaults()
    {
        var (options, error) = LoadOptions.Parse([]);

        Assert.Null(error);
        Assert.Equal(TimeSpan.FromSeconds(10), options!.Duration);
        Assert.Equal(8, options.Concurrency);
        Assert.Equal([100, 500], options.Candidates);
    }

    [Fact]
    public void Parse_BothSyntaxes_AreAccepted()
    {
        var (options, error) = LoadOptions.Parse(["--duration", "5s", "--concurrency=16", "--candidates", "50, 500,50", "--warmup=0"]);

        Assert.Null(error);
        Assert.Equal(TimeSpan.FromSeconds(5), options!.Duration);
        Assert.Equal(16, options.Concurrency);
        Assert.Equal([50, 500], options.Candidates);
        Assert.Equal(TimeSpan.Zero, options.Warmup);
    }

    [Theory]
    [InlineData("--duration", "0")]
    [InlineData("--duration", "121")]
    [InlineData("--concurrency", "0")]
    [InlineData("--candidates", "1001")]
    [InlineData("--candidates", ",")]
    [InlineData("--frobnicate", "1")]
    public void Parse_OutOfRangeOrUnknown_IsAnError(string name, string value)
    {
        var (options, error) = LoadOptions.Parse([name, value]);

        Assert.Null(options);
        Assert.Contains(name, error);
    }

    [Fact]
    public void Parse_MissingValue_IsAnError()
    {
        var (options, error) = LoadOptions.Parse(["--duration"]);

        Assert.Null(options);
        Assert.Contains("needs a value", error);
    }
}
