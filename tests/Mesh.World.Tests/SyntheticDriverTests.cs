using System.Net;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Learning.Metrics;
using Mesh.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.World.Tests;

public class SyntheticDriverTests
{
    private static readonly TimeSpan OneSecond = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task StepAsync_OneSecondAt100PerSecond_SendsOneHundredRankRequests()
    {
        var (clock, mesh, http, driver) = Create();
        using var _ = http;
        clock.Advance(OneSecond);

        var report = await driver.StepAsync(OneSecond);

        Assert.Equal(100, report.Requests);
        Assert.Equal(100, mesh.RankRequests.Count);
        Assert.Equal(0, report.RequestsFailed);
        Assert.Equal(1_000, report.Impressions);
        Assert.Equal(report.Events, mesh.Events.Count);
        Assert.InRange(report.Events, 100, 200); // 0-3 per request, 1.5 on average
        Assert.All(mesh.RankRequests, r =>
        {
            Assert.StartsWith("u", r.UserId, StringComparison.Ordinal);
            Assert.Equal(50, r.Candidates!.Count);
            Assert.Equal(50, r.Candidates.Select(c => c.AdId).Distinct().Count());
            Assert.Equal(10, r.K);
            Assert.Equal(12, r.Context!.Hour); // TestClock starts at 12:00 UTC
            Assert.Contains(r.Context.Surface, SyntheticWorld.Surfaces);
        });
        Assert.All(mesh.Events, e => Assert.True(e.OccurredAt <= clock.GetUtcNow()));

        var stats = driver.Stats;
        Assert.Equal(100, stats.RequestsSent);
        Assert.Equal(1_000, stats.Impressions);
        Assert.Equal(report.Events, stats.EventsSent);
    }

    [Fact]
    public async Task StepAsync_FractionalRequests_CarryToTheNextStep()
    {
        var (clock, mesh, http, driver) = Create();
        using var _ = http;
        var step = TimeSpan.FromMilliseconds(33); // 3.3 requests at 100/s
        var sent = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            clock.Advance(step);
            sent.Add((await driver.StepAsync(step)).Requests);
        }

        Assert.Equal([3, 3, 3, 4], sent); // owed 3.3, 3.6, 3.9, 4.2: floor(13.2) = 13 in all
        Assert.Equal(13, mesh.RankRequests.Count);
    }

    [Fact]
    public async Task Feedback_IsSentOnlyOnceTheClockPassesItsDueTime()
    {
        var (clock, mesh, http, driver) = Create();
        using var _ = http;
        clock.Advance(OneSecond);
        await driver.StepAsync(OneSecond);

        var afterStep = driver.Stats;
        Assert.True(afterStep.Clicks > 0);
        Assert.True(afterStep.FeedbackPending > 0, "clicks with a delay past the end of the step wait");
        Assert.Equal(afterStep.Clicks, afterStep.FeedbackSent + afterStep.FeedbackPending);
        Assert.Equal(afterStep.FeedbackSent, mesh.Feedback.Count);

        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(afterStep.FeedbackSent, mesh.Feedback.Count); // the clock alone sends nothing
        var flush = await driver.StepAsync(TimeSpan.Zero);

        Assert.Equal(0, flush.Requests);
        Assert.Equal(0, flush.FeedbackPending);
        Assert.Equal(afterStep.FeedbackPending, flush.FeedbackSent);
        Assert.Equal(afterStep.Clicks, mesh.Feedback.Count);
        Assert.All(mesh.Feedback, f => Assert.True(f.Feedback.OccurredAt <= f.ReceivedAt, "sent before its due time"));
        Assert.Contains(mesh.Feedback, f => f.Feedback.OccurredAt > TestClock.Start + OneSecond); // late clicks exist

        var served = mesh.Served.ToDictionary(s => s.ImpressionId);
        var users = mesh.RankRequests.Select(r => r.UserId).ToHashSet();
        Assert.All(mesh.Feedback, f =>
        {
            Assert.Equal(served[f.Feedback.ImpressionId!].AdId, f.Feedback.AdId);
            Assert.Contains(f.Feedback.UserId, users);
        });
    }

    [Fact]
    public async Task Stats_ConstantServedScore_MatchClosedFormAndRecomputedNe()
    {
        // One request in flight at a time, so the k-th request to arrive is the k-th planned, at Start + k·10 ms.
        var world = SmallWorld();
        var (clock, mesh, http, driver) = Create(world, new DriverOptions { MaxConcurrency = 1 });
        using var _ = http;
        mesh.Score = 0.05;
        clock.Advance(OneSecond);
        await driver.StepAsync(OneSecond);
        clock.Advance(TimeSpan.FromMinutes(1));
        await driver.StepAsync(TimeSpan.Zero);

        var stats = driver.Stats;
        var clicked = mesh.Feedback.Select(f => f.Feedback.ImpressionId).ToHashSet();
        Assert.Equal(stats.Clicks, clicked.Count);

        // Served NE by hand: n impressions, c clicks, all scored 0.05.
        double n = stats.Impressions;
        double c = stats.Clicks;
        var meanLogLoss = -((c * Math.Log(0.05)) + ((n - c) * Math.Log(0.95))) / n;
        var ctr = c / n;
        var entropy = -((ctr * Math.Log(ctr)) + ((1 - ctr) * Math.Log(1 - ctr)));
        Assert.Equal(meanLogLoss / entropy, stats.ServedNe.Value, 6); // scores are kept as floats
        Assert.Equal(1.0, stats.BaseRateNe.Value, 12);

        // Optimal NE recomputed from what the fake mesh saw, the feedback it got, and the world's truth.
        var optimal = new BinaryMetrics();
        var requests = mesh.RankRequests.ToList();
        var served = mesh.Served.ToList();
        for (var i = 0; i < requests.Count; i++)
        {
            var at = TestClock.Start + TimeSpan.FromMilliseconds(10.0 * (i + 1));
            foreach (var item in served.Skip(10 * i).Take(10))
            {
                optimal.Add((float)world.TrueClickProbability(requests[i].UserId!, item.AdId, requests[i].Context!, at), clicked.Contains(item.ImpressionId) ? 1f : 0f);
            }
        }

        Assert.Equal(Ne.Of(optimal), stats.OptimalNe);
    }

    [Fact]
    public async Task Stats_RecentNe_CoversOnlyTheImpressionsOfTheLastWindow()
    {
        var (clock, mesh, http, driver) = Create(SmallWorld(), new DriverOptions { RecentWindow = TimeSpan.FromSeconds(3) });
        using var _ = http;
        mesh.Score = 0.05;
        for (var i = 0; i < 2; i++)
        {
            clock.Advance(OneSecond);
            await driver.StepAsync(OneSecond);
        }

        var early = driver.Stats;
        Assert.Equal(early.ServedNe, early.RecentServedNe); // a window not yet full covers everything so far
        Assert.Equal(early.OptimalNe, early.RecentOptimalNe);

        mesh.Score = 0.2;
        for (var i = 0; i < 3; i++)
        {
            clock.Advance(OneSecond);
            await driver.StepAsync(OneSecond);
        }

        // The last 3 s: the 3,000 impressions scored 0.2, none of the 2,000 scored 0.05 before them.
        var stats = driver.Stats;
        var recent = stats.RecentServedNe;
        Assert.Equal(3_000, recent.Count);
        Assert.Equal(stats.Clicks - early.Clicks, recent.Positives);
        var logLoss = -((recent.Positives * Math.Log(0.2)) + ((recent.Count - recent.Positives) * Math.Log(0.8)));
        Assert.Equal(logLoss, recent.LogLossSum, 1e-6 * logLoss);
        Assert.Equal(stats.OptimalNe - early.OptimalNe, stats.RecentOptimalNe);
    }

    [Trait("Category", "Slow")]
    [Fact]
    public async Task StepAsync_SameSeeds_SameTrafficClicksAndStatsWhateverTheConcurrency()
    {
        var a = await RunThreeSeconds(new DriverOptions { Seed = 5, MaxConcurrency = 8 });
        var b = await RunThreeSeconds(new DriverOptions { Seed = 5, MaxConcurrency = 1 });
        var c = await RunThreeSeconds(new DriverOptions { Seed = 6 });

        Assert.Equal(a.Stats, b.Stats);
        Assert.Equal(a.Requests, b.Requests);
        Assert.Equal(a.Feedback, b.Feedback);
        Assert.NotEqual(a.Requests, c.Requests);
    }

    [Fact]
    public async Task StepAsync_MeshFailing_CountsFailuresAndServesNothing()
    {
        var (clock, mesh, http, driver) = Create();
        using var _ = http;
        mesh.RankStatus = HttpStatusCode.InternalServerError;
        clock.Advance(OneSecond);
        var report = await driver.StepAsync(OneSecond);

        Assert.Equal(100, report.RequestsFailed);
        Assert.Equal(0, report.Impressions);

        mesh.Unreachable = true;
        clock.Advance(OneSecond);
        await driver.StepAsync(OneSecond);

        var stats = driver.Stats;
        Assert.Equal(200, stats.RequestsSent);
        Assert.Equal(200, stats.RequestsFailed);
        Assert.True(stats.EventsFailed > 0);
        Assert.Equal(0, stats.Impressions);
        Assert.True(double.IsNaN(stats.ServedNe.Value));
    }

    [Fact]
    public async Task RunAsync_StepsOnEachTickAndReturnsWhenCancelled()
    {
        var (clock, mesh, http, driver) = Create();
        using var _ = http;
        mesh.RankTarget = 10; // 100 ms at 100/s
        using var cancel = new CancellationTokenSource();

        var run = driver.RunAsync(cancel.Token); // waits on the fake clock before its first step
        Assert.Empty(mesh.RankRequests);
        clock.Advance(SyntheticDriver.RunInterval);
        await mesh.RankTargetReached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await cancel.CancelAsync();
        await run;

        Assert.Equal(10, mesh.RankRequests.Count);
    }

    [Fact]
    public void Constructor_KAboveCandidates_Throws()
    {
        var clock = TestClock.Create();
        using var http = new FakeMesh(clock).CreateClient();
        Assert.Throws<ArgumentException>(() => new SyntheticDriver(SmallWorld(), http, clock, new DriverOptions { CandidatesPerRequest = 5, K = 10 }));
    }

    private static SyntheticWorld SmallWorld() => new(new WorldOptions { Users = 2_000, ActiveAds = 300 }, TestClock.Start);

    private static (FakeTimeProvider Clock, FakeMesh Mesh, HttpClient Http, SyntheticDriver Driver) Create(SyntheticWorld? world = null, DriverOptions? options = null)
    {
        var clock = TestClock.Create();
        var mesh = new FakeMesh(clock);
        var http = mesh.CreateClient();
        return (clock, mesh, http, new SyntheticDriver(world ?? SmallWorld(), http, clock, options ?? new DriverOptions()));
    }

    /// <summary>Three one-second steps and a final flush; requests and feedback sorted, since arrival order varies.</summary>
    private static async Task<(DriverStats Stats, List<string> Requests, List<string> Feedback)> RunThreeSeconds(DriverOptions options)
    {
        var (clock, mesh, http, driver) = Create(options: options);
        using var _ = http;
        for (var i = 0; i < 3; i++)
        {
            clock.Advance(OneSecond);
            await driver.StepAsync(OneSecond);
        }

        clock.Advance(TimeSpan.FromMinutes(1));
        await driver.StepAsync(TimeSpan.Zero);
        var requests = mesh.RankRequests.Select(r => JsonSerializer.Serialize(r, MeshJson.Options)).Order(StringComparer.Ordinal).ToList();
        var feedback = mesh.Feedback.Select(f => JsonSerializer.Serialize(f.Feedback, MeshJson.Options)).Order(StringComparer.Ordinal).ToList();
        return (driver.Stats, requests, feedback);
    }
}
