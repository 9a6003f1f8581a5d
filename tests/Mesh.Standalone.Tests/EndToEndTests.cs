using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Contracts;
using Xunit.Abstractions;

namespace Mesh.Standalone.Tests;

/// <summary>
/// The whole mesh in one process on a fake clock: the synthetic driver sends 3,600 rank requests (with the user events
/// and clicks they cause) through the public API, then the tests check on <c>/v1/stats</c> what a person running the
/// standalone host would: every request served, embeddings cached and precomputed representations used, a model
/// published by the trainer and served by the ranker with NE between the optimum and the base rate and improving,
/// early exit saving large-tier compute, and every event delivered or dead-lettered.
/// </summary>
[Trait("Category", "Slow")]
public sealed class EndToEndTests : IClassFixture<EndToEndTests.Run>
{
    private readonly Run _run;
    private readonly ITestOutputHelper _output;

    public EndToEndTests(Run run, ITestOutputHelper output)
    {
        _run = run;
        _output = output;
    }

    /// <summary>Simulated seconds at 100 requests/s, each request of 50 candidates.</summary>
    private const int Seconds = 36;

    private const int Requests = Seconds * 100;

    /// <summary>36 simulated seconds at 100 requests/s: 3,600 rank requests of 50 candidates.</summary>
    public sealed class Run : IAsyncLifetime
    {
        public StandaloneMesh Mesh { get; } = new();
        public JsonElement Stats { get; private set; }
        public World.DriverStats Driver { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var driver = Mesh.CreateDriver();
            for (var i = 0; i < Seconds * 10; i++)
            {
                await Mesh.StepAsync(driver, TimeSpan.FromMilliseconds(100));
            }

            await Mesh.FinishLabelsAsync();
            Driver = driver.Stats;
            Stats = await Mesh.CreateClient().GetFromJsonAsync<JsonElement>("/v1/stats");
        }

        public async Task DisposeAsync() => await Mesh.DisposeAsync();
    }

    [Fact]
    public void Run_EveryRequestServed()
    {
        Assert.Equal(Requests, _run.Driver.RequestsSent);
        Assert.Equal(0, _run.Driver.RequestsFailed);
        Assert.Equal(Requests, _run.Stats.GetProperty("requests").GetInt64());
        Assert.Equal(0, _run.Stats.GetProperty("failedRequests").GetInt64());
    }

    [Fact]
    public void Run_EmbeddingsCachedAndPrecomputeHits()
    {
        Assert.True(_run.Stats.GetProperty("embeddingCacheHitRate").GetDouble() > 0.3, _run.Stats.ToString());
        Assert.True(_run.Stats.GetProperty("precomputeHitRate").GetDouble() > 0.05, _run.Stats.ToString());
        Assert.True(_run.Stats.GetProperty("precompute").GetProperty("used").GetInt64() > 0);
    }

    [Fact]
    public void Run_RankerServesAVersionTheTrainerPublished()
    {
        var version = _run.Stats.GetProperty("modelVersion").GetInt64();

        Assert.True(version >= 1, _run.Stats.ToString());
        Assert.Equal(_run.Stats.GetProperty("trainer").GetProperty("publishedVersion").GetInt64(), _run.Stats.GetProperty("ranker").GetProperty("modelVersion").GetInt64());
    }

    [Fact]
    public void Run_ServedNeBelowBaseRateAndAboveOptimal()
    {
        var served = _run.Stats.GetProperty("servedNe").GetDouble();
        var baseRate = _run.Stats.GetProperty("baseRateNe").GetDouble();
        var optimal = _run.Driver.OptimalNe.Value;

        _output.WriteLine($"served NE {served:F4}, base rate {baseRate:F4}, optimal {optimal:F4}, model v{_run.Stats.GetProperty("modelVersion")}, " +
            $"cache hit {_run.Stats.GetProperty("embeddingCacheHitRate").GetDouble():P1}, precompute hit {_run.Stats.GetProperty("precomputeHitRate").GetDouble():P1}, " +
            $"trainer {_run.Stats.GetProperty("trainer")}, ranker {_run.Stats.GetProperty("ranker")}");
        Assert.True(served < baseRate, $"served NE {served} not below base rate {baseRate}");
        Assert.True(served > optimal, $"served NE {served} below the optimum {optimal}: the books are wrong");
        Assert.Equal(_run.Driver.Impressions, _run.Stats.GetProperty("labelledImpressions").GetInt64());
    }

    [Fact]
    public void Run_ServesBetterAtTheEndThanOnAverage()
    {
        // The driver's own books: the last 10 s (the test driver's window) against the whole run, which starts untrained.
        var recent = _run.Driver.RecentServedNe;
        var whole = _run.Driver.ServedNe;

        _output.WriteLine($"served NE: last 10 s {recent.Value:F4} over {recent.Count}, whole run {whole.Value:F4} over {whole.Count}; optimal last 10 s {_run.Driver.RecentOptimalNe.Value:F4}");
        Assert.InRange(recent.Count, 1, whole.Count - 1);
        Assert.True(recent.Value < whole.Value, $"the last 10 s ({recent.Value}) are not better than the whole run ({whole.Value})");
        Assert.True(recent.Value > _run.Driver.RecentOptimalNe.Value);
    }

    [Fact]
    public void Run_ScoredOnOnnxRuntimeInBatchesWithEveryExitHeadComputed()
    {
        var ranker = _run.Stats.GetProperty("ranker");
        var full = ranker.GetProperty("scoredSmall").GetInt64() + (3 * ranker.GetProperty("scoredLarge").GetInt64());

        // The exported large tier computes its three exit heads for every candidate; early exit (on in the standalone
        // configuration) picks among their scores but saves no compute (docs/models.md).
        Assert.Equal(full, ranker.GetProperty("candidateLayers").GetInt64());
        Assert.Equal(ranker.GetProperty("scoredSmall").GetInt64() + ranker.GetProperty("scoredLarge").GetInt64(), ranker.GetProperty("batchedCandidates").GetInt64());
        Assert.InRange(ranker.GetProperty("batches").GetInt64(), 1, ranker.GetProperty("batchedRequests").GetInt64());
    }

    [Fact]
    public void Run_EveryEventDeliveredOrDeadLettered()
    {
        var counters = _run.Mesh.Delivery.All;

        Assert.NotEmpty(counters);
        Assert.All(counters, c => Assert.Equal(c.Received - c.Duplicates, c.Delivered + c.DeadLettered));
        Assert.All(counters, c => Assert.Equal(0, c.DeadLettered));
        var impressions = counters.Where(c => c.Topic == Topics.Impressions).ToList();
        Assert.Equal([AppIds.Precompute, AppIds.Trainer], impressions.Select(c => c.AppId));
        Assert.All(impressions, c => Assert.Equal(Requests, c.Delivered));
    }

    [Fact]
    public async Task HandWrittenRequest_GetsRankedAnswer()
    {
        var response = await _run.Mesh.CreateClient().PostAsJsonAsync("/v1/rank", new
        {
            userId = "u000001",
            context = new { surface = "feed", device = "ios", hour = 20 },
            candidates = new[] { new { adId = "a000001", category = "c03" }, new { adId = "a000002", category = "c11" }, new { adId = "a000003", category = "c03" } },
            k = 2,
        });

        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        Assert.Equal(2, body.Items.Count);
        Assert.True(body.Items[0].Score >= body.Items[1].Score);
        Assert.True(body.ModelVersion >= 1);
    }
}
