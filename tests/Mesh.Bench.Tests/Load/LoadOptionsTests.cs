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
        Assert.Equal([HostSetup.Training, HostSetup.Unbatched], options.Compare);
        Assert.Equal([HostSetup.Serving, HostSetup.Training, HostSetup.Unbatched], options.Hosts);
        Assert.Equal(TimeSpan.FromSeconds(30), options.Settle);
        Assert.Equal(40, options.GemmRepetitions);
    }

    [Theory]
    [InlineData("training", new[] { "serving", "training" })]
    [InlineData("unbatched,training,unbatched", new[] { "serving", "unbatched", "training" })]
    [InlineData(" unbatched ", new[] { "serving", "unbatched" })]
    [InlineData("none", new[] { "serving" })]
    public void Parse_Compare_HeadlineHostFirst(string value, string[] hosts)
    {
        var (options, error) = LoadOptions.Parse(["--compare", value, "--settle=5", "--gemm-repetitions", "10"]);

        Assert.Null(error);
        Assert.Equal(hosts, options!.Hosts.Select(h => h.Name));
        Assert.Equal(TimeSpan.FromSeconds(5), options.Settle);
        Assert.Equal(10, options.GemmRepetitions);
    }

    [Fact]
    public void Parse_CompareCandidates_DefaultLargestElseAListOfCandidates()
    {
        Assert.Equal([500], LoadOptions.Parse([]).Options!.ComparedCandidates);
        Assert.Equal([200], LoadOptions.Parse(["--candidates", "200,50"]).Options!.ComparedCandidates);
        Assert.Equal([100, 500], LoadOptions.Parse(["--compare-candidates", "100,500"]).Options!.ComparedCandidates);

        var (options, error) = LoadOptions.Parse(["--compare-candidates", "200"]);

        Assert.Null(options);
        Assert.Contains("200 is not one of --candidates", error);
    }

    [Fact]
    public void HostSetups_TrainingAndBatchingSettings_ReachTheHostAsArguments()
    {
        Assert.False(HostSetup.Serving.Trains);
        Assert.Contains("--Trainer:Train=false", HostSetup.Serving.Settings);
        Assert.True(HostSetup.Training.Trains);
        Assert.False(HostSetup.Unbatched.Trains);
        Assert.Contains("--Ranker:MaxBatchCandidates=1", HostSetup.Unbatched.Settings);
        Assert.DoesNotContain(HostSetup.Serving.Settings, s => s.StartsWith("--Ranker:", StringComparison.Ordinal));
    }

    [Fact]
    public void Figure_HeadlineHasNoInfix_OthersTheirKey()
    {
        Assert.Equal("rank_500_rps_vs_bare", HostSetup.Serving.Figure(500, "rps_vs_bare"));
        Assert.Equal("rank_500_training_rps_vs_bare", HostSetup.Training.Figure(500, "rps_vs_bare"));
        Assert.Equal("rank_100_unbatched_serving_mfu", HostSetup.Unbatched.Figure(100, "serving_mfu"));
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
    [InlineData("--compare", "serving")]
    [InlineData("--compare", "training,bogus")]
    [InlineData("--compare", ",")]
    [InlineData("--settle", "0")]
    [InlineData("--gemm-repetitions", "2")]
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
