using System.Text.Json;
using Mesh.Bench.Load;
using Mesh.Models.Networks;

namespace Mesh.Bench.Tests.Load;

public class ServingFlopsTests
{
    private static readonly NetworkCost Small = new(FlopsPerCandidate: 1_000, FlopsPerRequest: 10_000);
    private static readonly NetworkCost Large = new(FlopsPerCandidate: 50_000, FlopsPerRequest: 200_000);

    [Fact]
    public void Flops_EveryRequestSmallStageAndSharedLargeStages_CostPerCandidateAndPerStage()
    {
        // 100 calls of 500 candidates through the small tier, 80 of them on to a large stage of 20.
        var counts = new RankerCounters(Requests: 100, ScoredSmall: 50_000, ScoredLarge: 1_600, Batches: 40, BatchedRequests: 180, BatchedCandidates: 51_600);

        var flops = ServingFlops.Flops(counts, Small, Large, largeShare: 0.8);

        Assert.Equal((50_000 * 1_000.0) + (100 * 10_000.0) + (1_600 * 50_000.0) + (80 * 200_000.0), flops, 6);
    }

    [Fact]
    public void Mfu_ServedRateOverReference_IsTheRatio()
    {
        var gflops = ServingFlops.Gflops(150e9, TimeSpan.FromSeconds(10));

        Assert.Equal(15, gflops, 9);
        Assert.Equal(0.1, ServingFlops.Mfu(gflops, 150), 9);
        Assert.True(double.IsNaN(ServingFlops.Mfu(gflops, 0)));
        Assert.True(double.IsNaN(ServingFlops.Mfu(gflops, double.NaN)));
    }

    [Fact]
    public void Since_TwoReadings_DifferencePerCounter()
    {
        var before = new RankerCounters(10, 5_000, 200, 4, 20, 5_200);
        var after = new RankerCounters(110, 55_000, 2_200, 54, 220, 57_200);

        var delta = after.Since(before);

        Assert.Equal(new RankerCounters(100, 50_000, 2_000, 50, 200, 52_000), delta);
        Assert.Equal(4, delta.CallsPerBatch, 9);
        Assert.Equal(1_040, delta.CandidatesPerBatch, 9);
        Assert.True(double.IsNaN(default(RankerCounters).CallsPerBatch));
    }

    [Fact]
    public void FromStats_StatsReply_RankerCountersAndTrainer()
    {
        using var doc = JsonDocument.Parse("""
            {
              "ranker": { "requests": 7, "modelVersion": 0, "scoredSmall": 3500, "scoredLarge": 140, "batches": 5,
                          "batchedRequests": 14, "batchedCandidates": 3640, "devices": [] },
              "trainer": { "train": false, "trainedExamples": 0, "untrainedExamples": 70 }
            }
            """);

        var stats = HostStats.FromStats(doc.RootElement);

        Assert.Equal(new RankerCounters(7, 3_500, 140, 5, 14, 3_640), stats.Ranker);
        Assert.False(stats.Train);
        Assert.Equal(0, stats.TrainedExamples);
    }

    [Fact]
    public void FromStats_NoTrainSetting_IsNull()
    {
        using var doc = JsonDocument.Parse("""{ "ranker": { "requests": 0, "scoredSmall": 0, "scoredLarge": 0, "batches": 0, "batchedRequests": 0, "batchedCandidates": 0 } }""");

        Assert.Null(HostStats.FromStats(doc.RootElement).Train);
    }
}
