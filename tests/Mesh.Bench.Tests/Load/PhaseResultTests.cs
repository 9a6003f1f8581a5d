using System.Diagnostics;
using Mesh.Bench.Load;
using Mesh.Contracts;

namespace Mesh.Bench.Tests.Load;

public class PhaseResultTests
{
    private static readonly long TicksPerMs = Stopwatch.Frequency / 1000;

    [Fact]
    public void PercentileMs_OneToHundred_IsNearestRank()
    {
        var worker = new WorkerResult();
        for (var ms = 100; ms >= 1; ms--)
        {
            worker.Success(ms * TicksPerMs, Reply("large"));
        }

        var result = PhaseResult.Merge("/v1/rank", 100, TimeSpan.FromSeconds(2), [worker]);

        Assert.Equal(50, result.PercentileMs(50), 6);
        Assert.Equal(90, result.PercentileMs(90), 6);
        Assert.Equal(99, result.PercentileMs(99), 6);
        Assert.Equal(100, result.PercentileMs(100), 6);
        Assert.Equal(50, result.RequestsPerSecond, 6);
    }

    [Fact]
    public void Merge_Workers_SumsCountsAndTiersAndKeepsTheFirstError()
    {
        var a = new WorkerResult();
        a.Success(TicksPerMs, Reply("large"));
        a.Success(TicksPerMs, Reply("small"));
        a.Error("HTTP 503");
        var b = new WorkerResult();
        b.Success(TicksPerMs, Reply("large"));
        b.Success(-1, Reply("large"));
        b.Error("HTTP 400");

        var result = PhaseResult.Merge("/v1/rank", 100, TimeSpan.FromSeconds(1), [a, b]);

        Assert.Equal(4, result.Successes);
        Assert.Equal(2, result.Errors);
        Assert.Equal("HTTP 503", result.FirstError);
        Assert.Equal(3, result.SortedTicks.Length);
        Assert.Equal(3, result.Tiers["large"]);
        Assert.Equal("large 75%, small 25%", result.TierMix());
    }

    [Fact]
    public void PercentileMs_NothingSucceeded_IsNaN()
    {
        var worker = new WorkerResult();
        worker.Error("HTTP 500");

        var result = PhaseResult.Merge("/v1/rank", 100, TimeSpan.FromSeconds(1), [worker]);

        Assert.True(double.IsNaN(result.PercentileMs(50)));
        Assert.True(double.IsNaN(result.HostCpuMsPerRequest));
        Assert.Equal("-", result.TierMix());
    }

    private static RankResponse Reply(string tier) => new()
    {
        RequestId = "r",
        Items = [],
        Tier = tier,
        ModelVersion = 0,
        Embedding = new EmbeddingInfo { Source = EmbeddingSource.Default, ModelVersion = 0, AgeMs = 0 },
        PrecomputedHits = 0,
        Timings = new RankTimings { EmbeddingMs = 0.1, RankMs = 0.2, TotalMs = 0.3 },
    };
}
