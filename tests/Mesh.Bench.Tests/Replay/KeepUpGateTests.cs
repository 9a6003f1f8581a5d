using System.Net;
using System.Text;
using Mesh.Bench.Replay;
using Mesh.Contracts;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Bench.Tests.Replay;

public class KeepUpGateTests
{
    private static readonly TimeSpan Poll = new KeepUpSettings(1, TimeSpan.Zero).PollDelay;

    /// <summary>
    /// A stand-in for the host whose trainer takes in what <paramref name="progress"/> says (given the feedback posts
    /// so far), reported as <c>trainer.trainedExamples</c> in <c>/v1/stats</c>. Records how far ahead each rank call was.
    /// </summary>
    private sealed class TrainerMesh(Func<long, long> progress, string? stats = null, Func<long>? servingBehind = null) : HttpMessageHandler
    {
        private long _feedback;

        public int Ranked { get; private set; }

        public int StatsReads { get; private set; }

        /// <summary>Per rank call: impressions ranked, this call's included, minus the trainer's progress at that moment.</summary>
        public List<long> Ahead { get; } = [];

        public long Feedback => Interlocked.Read(ref _feedback);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            switch (request.RequestUri!.AbsolutePath)
            {
                case "/v1/stats":
                    StatsReads++;
                    var body = stats ?? $$$"""{"trainer":{"trainedExamples":{{{progress(Feedback)}}},"pendingLabels":7},"ranker":{"lag":{"versions":{{{servingBehind?.Invoke() ?? 0}}} } } }""";
                    return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                case "/v1/feedback":
                    Interlocked.Increment(ref _feedback);
                    return new HttpResponseMessage(HttpStatusCode.Accepted);
                case "/v1/events":
                    return new HttpResponseMessage(HttpStatusCode.Accepted);
            }

            var rank = MeshJson.Deserialize<RankRequest>(await request.Content!.ReadAsByteArrayAsync(cancellationToken));
            Ranked += rank.Candidates!.Count;
            Ahead.Add(Ranked - progress(Feedback));
            var reply = new RankResponse
            {
                RequestId = "q" + Ranked,
                Items = [.. rank.Candidates!.Select(c => new RankedAd { AdId = c.AdId!, Score = 0.5, ImpressionId = $"{Ranked}:{c.AdId}" })],
                Tier = "large",
                ModelVersion = 0,
                Embedding = new EmbeddingInfo { Source = EmbeddingSource.Default, ModelVersion = 0, AgeMs = 0 },
                PrecomputedHits = 0,
                Timings = new RankTimings { EmbeddingMs = 0, RankMs = 0, TotalMs = 0 },
            };
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(MeshJson.Serialize(reply)) };
        }
    }

    /// <summary>30 one-impression requests, one a second of event time, every third clicked.</summary>
    private static IReadOnlyList<ReplayRequest> Stream() =>
        ReplayStream.Build(Enumerable.Range(0, 30).Select(i => BaselinesTests.Impression("a" + i, i % 3 == 0, second: i)));

    private static async Task<(ReplayResult Result, int Delays)> ReplayAsync(TrainerMesh mesh, FakeTimeProvider clock, ReplaySettings settings)
    {
        using var client = new HttpClient(mesh) { BaseAddress = new Uri("http://mesh.test/") };
        var delays = 0;
        // The gate's poll delay advances the fake clock: no real time passes, and the stall timeout is reached exactly.
        var runner = new ReplayRunner(client, clock, (delay, _) =>
        {
            delays++;
            clock.Advance(delay);
            return Task.CompletedTask;
        });
        var result = await runner.RunAsync(Stream(), [], settings, progress: null, CancellationToken.None);
        return (result, delays);
    }

    [Fact]
    public async Task RunAsync_TrainerSlowerThanReplay_NeverMoreThanBoundAhead()
    {
        var clock = new FakeTimeProvider();
        var start = clock.GetUtcNow();
        // The trainer takes in one impression every 50 ms of the fake clock, never one whose label has not been posted.
        var mesh = new TrainerMesh(fed => Math.Min(fed, (long)((clock.GetUtcNow() - start) / TimeSpan.FromMilliseconds(50))));

        var (result, delays) = await ReplayAsync(mesh, clock, new ReplaySettings(KeepUp: new KeepUpSettings(5, TimeSpan.FromSeconds(10))));

        Assert.Equal(30, mesh.Ranked);
        Assert.Equal(30, mesh.Feedback);
        Assert.True(mesh.Ahead.Max() <= 5, $"ran {mesh.Ahead.Max()} ahead");
        Assert.Equal(5, mesh.Ahead.Max()); // the bound, not less: the gate holds back only what it must
        Assert.True(result.KeepUpWaits > 0);
        Assert.Equal(Poll * delays, result.KeepUpWait); // reads take no fake time: the waits are the poll delays
        Assert.Equal(mesh.StatsReads, result.StatsReads);
        Assert.Equal(result.KeepUpWait, result.Elapsed); // nothing else moves the fake clock: impressions/s counts the waits
    }

    [Fact]
    public async Task RunAsync_ServingBehindANewVersion_WaitsForItsLoad()
    {
        var clock = new FakeTimeProvider();
        var start = clock.GetUtcNow();
        // The trainer keeps up; a version published at once takes the ranker 1 s of the fake clock to load.
        var mesh = new TrainerMesh(fed => fed, servingBehind: () => clock.GetUtcNow() - start < TimeSpan.FromSeconds(1) ? 1 : 0);
        var keepUp = new KeepUpSettings(100, TimeSpan.FromSeconds(10)) { CheckEvery = 10 };

        var (result, _) = await ReplayAsync(mesh, clock, new ReplaySettings(KeepUp: keepUp));

        Assert.Equal(30, mesh.Ranked);
        Assert.Equal(1, result.KeepUpWaits); // held once, at the first check, until the version loaded
        Assert.Equal(TimeSpan.FromSeconds(1), result.KeepUpWait);
    }

    [Fact]
    public async Task RunAsync_GateOff_RunsThroughWithoutReadingStats()
    {
        var clock = new FakeTimeProvider();
        var mesh = new TrainerMesh(_ => 0);

        var (result, delays) = await ReplayAsync(mesh, clock, new ReplaySettings());

        Assert.Equal(30, mesh.Ranked);
        Assert.Equal(30, mesh.Ahead.Max());
        Assert.Equal(0, mesh.StatsReads);
        Assert.Equal(0, delays);
        Assert.Equal(TimeSpan.Zero, result.KeepUpWait);
    }

    [Fact]
    public async Task RunAsync_TrainerStalled_StopsAfterTheTimeoutNamingTheFigures()
    {
        var clock = new FakeTimeProvider();
        var start = clock.GetUtcNow();
        var mesh = new TrainerMesh(_ => 0);

        var e = await Assert.ThrowsAsync<TimeoutException>(() => ReplayAsync(mesh, clock, new ReplaySettings(KeepUp: new KeepUpSettings(3, TimeSpan.FromSeconds(10)))));

        Assert.Equal(3, mesh.Ranked); // the fourth would have been 4 ahead
        Assert.Equal(TimeSpan.FromSeconds(60), clock.GetUtcNow() - start);
        Assert.Contains("nothing for 60 s", e.Message, StringComparison.Ordinal);
        Assert.Contains("3 impressions served", e.Message, StringComparison.Ordinal);
        Assert.Contains("trainer progress 0 (trainedExamples 0 + untrainedExamples 0 + shedExamples 0)", e.Message, StringComparison.Ordinal);
        Assert.Contains("bound 3", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_WindowNegatives_CountsOnlyImpressionsWhoseWindowClosed()
    {
        var clock = new FakeTimeProvider();
        var mesh = new TrainerMesh(_ => 0);
        var keepUp = new KeepUpSettings(2, TimeSpan.FromSeconds(10)) { StallTimeout = TimeSpan.FromSeconds(1) };

        var e = await Assert.ThrowsAsync<TimeoutException>(() => ReplayAsync(mesh, clock, new ReplaySettings(Negatives: NegativeFeedback.Window, KeepUp: keepUp)));

        // Sending second t closes the windows of seconds 0..t-10: the request at 12 s would make 3 takeable, over the bound.
        Assert.Equal(12, mesh.Ranked);
        Assert.Contains("12 impressions served, 3 of them takeable", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsync_StatsWithoutTrainerProgress_FailsAtOnce()
    {
        var clock = new FakeTimeProvider();
        var mesh = new TrainerMesh(_ => 0, stats: """{"trainer":{"pendingLabels":3},"labelledImpressions":10}""");

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => ReplayAsync(mesh, clock, new ReplaySettings(KeepUp: new KeepUpSettings(3, TimeSpan.FromSeconds(10)))));

        Assert.Equal(1, mesh.StatsReads);
        Assert.Contains("--keep-up 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_KeepUp_DefaultOnZeroOffWindowFromHostSettings()
    {
        var (defaults, _) = ReplayOptions.Parse([]);
        var (off, _) = ReplayOptions.Parse(["--keep-up", "0"]);
        var (set, _) = ReplayOptions.Parse(["--keep-up=50", "--set", "Trainer:LabelWindow=00:00:02"]);

        Assert.Equal(new KeepUpSettings(KeepUpSettings.DefaultBound, KeepUpSettings.DefaultLabelWindow), defaults!.GateSettings());
        Assert.Null(off!.GateSettings());
        Assert.Equal(new KeepUpSettings(50, TimeSpan.FromSeconds(2)), set!.GateSettings());
        Assert.NotNull(ReplayOptions.Parse(["--keep-up", "-1"]).Error);
    }
}
