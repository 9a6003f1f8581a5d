using System.Net;
using Mesh.Bench.Replay;
using Mesh.Contracts;
// The log mapping's own kinds, not the host's FeatureSpaceOptions ones of the same names.

namespace Mesh.Bench.Tests.Replay;

public class ReplayRunnerTests
{
    /// <summary>A stand-in for the host: /v1/rank scores each candidate by its id, /v1/feedback answers 202; everything is recorded.</summary>
    private sealed class FakeMesh(Func<RankRequest, bool>? fail = null) : HttpMessageHandler
    {
        public List<RankRequest> Ranks { get; } = [];

        public List<FeedbackRequest> Feedback { get; } = [];

        public List<UserEventRequest> Events { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = await request.Content!.ReadAsByteArrayAsync(cancellationToken);
            if (request.RequestUri!.AbsolutePath == "/v1/feedback")
            {
                lock (Feedback)
                {
                    Feedback.Add(MeshJson.Deserialize<FeedbackRequest>(body));
                }

                return new HttpResponseMessage(HttpStatusCode.Accepted);
            }

            if (request.RequestUri!.AbsolutePath == "/v1/events")
            {
                lock (Events)
                {
                    Events.Add(MeshJson.Deserialize<UserEventRequest>(body));
                }

                return new HttpResponseMessage(HttpStatusCode.Accepted);
            }

            var rank = MeshJson.Deserialize<RankRequest>(body);
            Ranks.Add(rank);
            if (fail?.Invoke(rank) == true)
            {
                return new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = new StringContent("""{"errors":{"candidates[0].features.price":["wrong kind"]}}""") };
            }

            var reply = new RankResponse
            {
                RequestId = "q" + Ranks.Count,
                Items = [.. rank.Candidates!.Select(c => new RankedAd { AdId = c.AdId!, Score = Score(c.AdId!), ImpressionId = $"{Ranks.Count}:{c.AdId}" })],
                Tier = "large",
                ModelVersion = Ranks.Count / 4,
                Embedding = new EmbeddingInfo { Source = EmbeddingSource.Default, ModelVersion = 0, AgeMs = 0 },
                PrecomputedHits = 0,
                Timings = new RankTimings { EmbeddingMs = 0, RankMs = 0, TotalMs = 0 },
            };
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(MeshJson.Serialize(reply)) };
        }

        private static double Score(string adId) => adId switch { "a" => 0.6, "b" => 0.1, _ => 0.3 };
    }

    // Rows in file order, deliberately not in time order; r2's rows share a request key.
    private static IReadOnlyList<LogImpression> Fixture() =>
    [
        BaselinesTests.Impression("a", true, "u1", second: 30, request: "r3"),
        BaselinesTests.Impression("b", false, "u2", second: 10, request: "r1"),
        BaselinesTests.Impression("a", true, "u1", second: 20, request: "r2"),
        BaselinesTests.Impression("b", false, "u1", second: 20, request: "r2"),
        BaselinesTests.Impression("c", false, "u1", second: 21, request: "r2"),
        BaselinesTests.Impression("c", true, "u3", second: 40, request: "r4"),
        BaselinesTests.Impression("b", false, "u3", second: 50, request: "r5"),
    ];

    private static async Task<(ReplayResult Result, FakeMesh Mesh)> ReplayAsync(ReplaySettings settings, Func<RankRequest, bool>? fail = null)
    {
        var mesh = new FakeMesh(fail);
        using var client = new HttpClient(mesh) { BaseAddress = new Uri("http://mesh.test/") };
        var runner = new ReplayRunner(client, TimeProvider.System);
        var baselines = ReplayBenchmark.CreateBaselines(new LogMapping { User = ["u"], Item = "i", Time = "t", Label = "y" }, seed: 1);
        var result = await runner.RunAsync(ReplayStream.Build(Fixture()), baselines, settings, progress: null, CancellationToken.None);
        return (result, mesh);
    }

    [Fact]
    public void Build_UnsortedRowsWithRequestKeys_EventTimeOrderOneRequestPerKey()
    {
        var requests = ReplayStream.Build(Fixture());

        Assert.Equal(["b", "a,b,c", "a", "c", "b"], requests.Select(r => string.Join(',', r.Items.Select(i => i.ItemId))));
        Assert.Equal([0, 1, 2, 3, 4], requests.Select(r => r.Index));
    }

    [Fact]
    public async Task RunAsync_SameFixtureTwice_SameFigures()
    {
        var (first, _) = await ReplayAsync(new ReplaySettings());
        var (second, _) = await ReplayAsync(new ReplaySettings());

        var a = ReplayBenchmark.Summarize(first);
        var b = ReplayBenchmark.Summarize(second);
        Assert.Equal(a, b);
        Assert.Equal(["mesh", "base rate", "item rate", "online LR"], a.Select(s => s.Model));
        Assert.Equal(first.Labels, second.Labels);
        foreach (var (model, predictions) in first.Predictions)
        {
            Assert.Equal(predictions, second.Predictions[model]);
        }
    }

    [Fact]
    public async Task RunAsync_Fixture_SendsEventTimeFeaturesAndExplicitNegatives()
    {
        var (result, mesh) = await ReplayAsync(new ReplaySettings());

        // Event-time order; a request's rows in one call, k = its candidate count, every score without early exit.
        Assert.Equal([1, 3, 1, 1, 1], mesh.Ranks.Select(r => r.Candidates!.Count));
        Assert.Equal(mesh.Ranks.Select(r => r.Candidates!.Count), mesh.Ranks.Select(r => r.K));
        Assert.All(mesh.Ranks, r => Assert.Equal(0, r.ExitThreshold));
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 0, 0, 10, TimeSpan.Zero), mesh.Ranks[0].OccurredAt);
        Assert.Equal("s1", mesh.Ranks[0].Context!.Features!["segment"].GetString());
        Assert.Equal(9, mesh.Ranks[0].Candidates![0].Features!["price"].GetDouble());

        // The mesh's own scores, in replay order: b, (a, b, c), a, c, b.
        Assert.Equal([0.1f, 0.6f, 0.1f, 0.3f, 0.6f, 0.3f, 0.1f], result.Predictions[ReplayRunner.Mesh]);
        Assert.Equal([0f, 1f, 0f, 0f, 1f, 1f, 0f], result.Labels);
        Assert.Equal(7, mesh.Feedback.Count);
        Assert.Equal(3, mesh.Feedback.Count(f => f.Kind == FeedbackKind.Click));
        Assert.Equal(4, mesh.Feedback.Count(f => f.Kind == FeedbackKind.NoClick));
        Assert.All(mesh.Feedback, f => Assert.NotNull(f.OccurredAt));
        Assert.Equal((0, 1), result.ModelVersions);
        Assert.Equal(0, result.RankErrors + result.MissingScores + result.FeedbackErrors);

        // Progressive: the base rate's first prediction has seen nothing; its second, one non-click.
        Assert.Equal(0.5f, result.Predictions["base rate"][0]);
        Assert.Equal(0.25f, result.Predictions["base rate"][1]);
    }

    [Fact]
    public async Task RunAsync_UserEventsOn_EachClickPostedAsAUserEventAtItsEventTime()
    {
        var (result, mesh) = await ReplayAsync(new ReplaySettings(UserEvents: true));

        // Clicks: a by u1 at 20 s, a by u1 at 30 s, c by u3 at 40 s.
        Assert.Equal(["u1:a", "u1:a", "u3:c"], mesh.Events.Select(e => $"{e.UserId}:{e.ItemId}").Order());
        Assert.All(mesh.Events, e => Assert.Equal(UserActionKind.Engage, e.Kind));
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 0, 0, 40, TimeSpan.Zero), mesh.Events.Single(e => e.UserId == "u3").OccurredAt);
        Assert.Equal(3, result.EventPosts);
        Assert.Equal(0, result.EventErrors);
    }

    [Fact]
    public async Task RunAsync_Default_PostsNoUserEvents()
    {
        var (result, mesh) = await ReplayAsync(new ReplaySettings());

        Assert.Empty(mesh.Events);
        Assert.Equal(0, result.EventPosts);
    }

    [Fact]
    public void Parse_UserEvents_OffByDefaultOnOrOffOnlyByName()
    {
        Assert.False(ReplayOptions.Parse([]).Options!.UserEvents);
        Assert.True(ReplayOptions.Parse(["--user-events", "on"]).Options!.UserEvents);
        Assert.False(ReplayOptions.Parse(["--user-events=off"]).Options!.UserEvents);
        Assert.NotNull(ReplayOptions.Parse(["--user-events", "yes"]).Error);
    }

    [Fact]
    public async Task RunAsync_RankRefused_TheLogsClicksStillReachTheUserModel()
    {
        var (_, mesh) = await ReplayAsync(new ReplaySettings(UserEvents: true), fail: r => r.UserId == "u3");

        Assert.Contains(mesh.Events, e => e.UserId == "u3" && e.ItemId == "c");
    }

    [Fact]
    public async Task RunAsync_WindowNegatives_PostsClicksOnly()
    {
        var (_, mesh) = await ReplayAsync(new ReplaySettings(Negatives: NegativeFeedback.Window));

        Assert.Equal(3, mesh.Feedback.Count);
        Assert.All(mesh.Feedback, f => Assert.Equal(FeedbackKind.Click, f.Kind));
    }

    [Fact]
    public async Task RunAsync_RankRefused_CountsTheErrorAndLeavesItsImpressionsOut()
    {
        var (result, mesh) = await ReplayAsync(new ReplaySettings(), fail: r => r.UserId == "u3");

        Assert.Equal(2, result.RankErrors);
        Assert.Equal(2, result.MissingScores);
        Assert.Contains("400", result.FirstErrors[0], StringComparison.Ordinal);
        Assert.Contains("candidates[0].features.price", result.FirstErrors[0], StringComparison.Ordinal);
        Assert.Equal(5, mesh.Feedback.Count); // none for impressions the mesh never served
        var summary = ReplayBenchmark.Summarize(result);
        Assert.All(summary, s => Assert.Equal(5, s.All.Count)); // every model on the same impressions
    }

    [Fact]
    public void Chunks_DuplicatesAndMoreThanMaxK_SplitIntoValidCalls()
    {
        string[] ids = [.. Enumerable.Range(0, 150).Select(i => "x" + i), "x0"];

        var chunks = ReplayRunner.Chunks(ids.Length, j => ids[j]);

        Assert.Equal([100, 51], chunks.Select(c => c.Count));
        Assert.All(chunks, c => Assert.Equal(c.Count, c.Select(j => ids[j]).Distinct().Count()));
        Assert.Equal(ids.Length, chunks.Sum(c => c.Count));
    }

    [Fact]
    public void HostFeatureSettings_Mapping_ConfiguresEachFeature()
    {
        var settings = ReplayBenchmark.HostFeatureSettings(new LogMapping
        {
            ContextFeatures = [new FeatureColumn { Name = "segment" }],
            CandidateFeatures = [new FeatureColumn { Name = "tags", Separator = "|", Buckets = 256 }, new FeatureColumn { Name = "price", Kind = FeatureKind.Numeric, Transform = FeatureTransform.Log1p }],
        });

        Assert.Equal(
        [
            "--FeatureSpace:Features:0:Name=segment", "--FeatureSpace:Features:0:Side=Context", "--FeatureSpace:Features:0:Kind=Categorical",
            "--FeatureSpace:Features:0:Buckets=1024", "--FeatureSpace:Features:0:MaxValues=1",
            "--FeatureSpace:Features:1:Name=tags", "--FeatureSpace:Features:1:Side=Candidate", "--FeatureSpace:Features:1:Kind=Categorical",
            "--FeatureSpace:Features:1:Buckets=256", "--FeatureSpace:Features:1:MaxValues=4",
            "--FeatureSpace:Features:2:Name=price", "--FeatureSpace:Features:2:Side=Candidate", "--FeatureSpace:Features:2:Kind=Numeric",
            "--FeatureSpace:Features:2:Transform=Log1p",
        ], settings);
    }

    [Fact]
    public void Parse_Options_ReadsEachAndPairsLogWithMapping()
    {
        var (options, error) = ReplayOptions.Parse(["--log", "x.csv", "--mapping=m.json", "--speed", "250", "--limit", "1000", "--negatives", "window", "--set", "Trainer:LabelWindow=00:00:01"]);

        Assert.Null(error);
        Assert.Equal(250, options!.Speed);
        Assert.Equal(1000, options.Limit);
        Assert.Equal(NegativeFeedback.Window, options.Negatives);
        Assert.Equal(["--Trainer:LabelWindow=00:00:01"], options.HostSettings);
        Assert.NotNull(ReplayOptions.Parse(["--log", "x.csv"]).Error);
        Assert.NotNull(ReplayOptions.Parse(["--speed", "0"]).Error);
        Assert.Null(ReplayOptions.Parse([]).Error);
    }

    [Fact]
    public void WriteSyntheticLog_GeneratedLogAndMapping_ReadBack()
    {
        var dir = Directory.CreateTempSubdirectory("mesh-replay-synthetic-").FullName;
        try
        {
            var (log, mappingPath) = ReplayBenchmark.WriteSyntheticLog(dir, seed: 1, impressions: 500);
            var read = LogReader.Read(log, LogMapping.Load(mappingPath));

            Assert.Equal(500, read.Impressions.Count);
            Assert.Equal(0, read.SkippedRows);
            Assert.Equal(100, ReplayStream.Build(read.Impressions).Count);
            Assert.All(read.Impressions, i => Assert.NotNull(i.Truth));
            Assert.Equal(["age", "region", "segment"], read.Impressions[0].Context.Keys.Order());
            Assert.Equal(["position", "price", "tags"], read.Impressions[0].Candidate.Keys.Order());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
