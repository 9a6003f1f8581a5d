using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mesh.Contracts;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Router.Tests;

public sealed class RankApiTests : IClassFixture<RouterApp>
{
    private readonly RouterApp _app;
    private readonly HttpClient _client;

    public RankApiTests(RouterApp app)
    {
        _app = app;
        _client = app.CreateClient();
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<JsonElement> PostInvalidAsync(string path, HttpContent content)
    {
        var response = await _client.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
    }

    [Fact]
    public async Task Rank_ValidRequest_ReturnsTopKWithTierVersionAndTimings()
    {
        var response = await _client.PostAsJsonAsync("/v1/rank", new RankRequest
        {
            UserId = "u1",
            Candidates = [.. Enumerable.Range(0, 20).Select(i => new Candidate { AdId = $"a{i}", Category = "c1" })],
            K = 3,
        }, MeshJson.Options);

        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        Assert.Equal(["a0", "a1", "a2"], body.Items.Select(i => i.AdId));
        Assert.Equal(7, body.ModelVersion);
        Assert.Equal(Tiers.Large, body.Tier);
        Assert.Equal(EmbeddingSource.Default, body.Embedding.Source);
        Assert.All(body.Items, i => Assert.StartsWith(body.RequestId, i.ImpressionId, StringComparison.Ordinal));
        Assert.True(body.Timings.TotalMs >= body.Timings.RankMs);
    }

    [Fact]
    public async Task Rank_Reply_EnumsAreCamelCaseStringsAndNullsOmitted()
    {
        var response = await _client.PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "nobody", Candidates = [new Candidate { AdId = "a" }] }, MeshJson.Options);

        var json = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"source\":\"default\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("null", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Rank_Served_PublishesImpressionsWithServedInputs()
    {
        RecentEvent[] recent = [new() { Category = "c2", Kind = UserActionKind.Engage, OccurredAt = _app.Clock.GetUtcNow().AddMinutes(-1) }];
        await _app.State.SaveAsync(Components.EmbeddingStore, "u-known", new UserEmbedding { Vector = [1, 2, 3], ModelVersion = 4, ComputedAt = _app.Clock.GetUtcNow(), Recent = recent });

        var response = await _client.PostAsJsonAsync("/v1/rank", new RankRequest
        {
            UserId = "u-known",
            Context = new RankContext { Surface = "reels", Device = "ios", Hour = 9 },
            Candidates = [new Candidate { AdId = "x", Category = "c2" }, new Candidate { AdId = "y" }],
            K = 2,
        }, MeshJson.Options);
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        await WaitForImpressionsAsync(body.RequestId);

        var served = _app.Published<ImpressionsServed>().Single(e => e.RequestId == body.RequestId);
        Assert.Equal(EmbeddingSource.Store, served.Embedding.Source);
        Assert.Equal([1f, 2f, 3f], served.Embedding.Vector);
        Assert.Equal(4, served.Embedding.ModelVersion);
        Assert.Equal(recent, served.Embedding.Recent); // the sequence behind the vector, for the trainer's user tower
        Assert.Equal("reels", served.Context.Surface);
        Assert.Equal(2, served.CandidateCount);
        Assert.Equal(body.Items.Select(i => i.ImpressionId), served.Items.Select(i => i.ImpressionId));
        Assert.Equal("", served.Items.Single(i => i.AdId == "y").Category);
    }

    [Fact]
    public async Task Rank_ExitThreshold_PassedToTheFinalStageOnly()
    {
        var request = new RankRequest
        {
            UserId = "u-exit",
            Candidates = [.. Enumerable.Range(0, 60).Select(i => new Candidate { AdId = $"a{i}", Category = "c1" })],
            K = 5,
            ExitThreshold = 0.4,
        };

        (await _client.PostAsJsonAsync("/v1/rank", request, MeshJson.Options)).EnsureSuccessStatusCode();
        (await _client.PostAsJsonAsync("/v1/rank", request with { UserId = "u-no-exit", ExitThreshold = null }, MeshJson.Options)).EnsureSuccessStatusCode();

        var cascade = _app.Ranker.Requests.Single(r => r.UserId == "u-exit").Cascade;
        Assert.Equal([(Tiers.Small, (double?)null), (Tiers.Large, 0.4)], cascade.Select(s => (s.Tier, s.ExitThreshold)));
        Assert.All(_app.Ranker.Requests.Single(r => r.UserId == "u-no-exit").Cascade, s => Assert.Null(s.ExitThreshold)); // the router's default: none
    }

    [Fact]
    public async Task Rank_RankerFails_Returns503Problem()
    {
        await using var app = new RouterApp();
        app.Ranker.Fail = true;
        var response = await app.CreateClient().PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u", Candidates = [new Candidate { AdId = "a" }] }, MeshJson.Options);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("{", "body")]
    [InlineData("[1,2]", "body")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"k":"ten"}""", "k")]
    [InlineData("""{"userId":"u","candidates":[{"adId":5}]}""", "candidates[0].adId")]
    [InlineData("""{"candidates":[{"adId":"a"}]}""", "userId")]
    [InlineData("""{"userId":"  ","candidates":[{"adId":"a"}]}""", "userId")]
    [InlineData("""{"userId":"u"}""", "candidates")]
    [InlineData("""{"userId":"u","candidates":[]}""", "candidates")]
    [InlineData("""{"userId":"u","candidates":[{"category":"c"}]}""", "candidates[0].adId")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"},{"adId":"a"}]}""", "candidates[1].adId")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"k":0}""", "k")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"k":101}""", "k")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"budgetMs":0}""", "budgetMs")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"context":{"hour":24}}""", "context.hour")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"exitThreshold":1.5}""", "exitThreshold")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"exitThreshold":-0.1}""", "exitThreshold")]
    [InlineData("""{"userId":"u","candidates":[{"adId":"a"}],"exitThreshold":"high"}""", "exitThreshold")]
    public async Task Rank_BadInput_Returns400NamingTheField(string json, string field)
    {
        var errors = await PostInvalidAsync("/v1/rank", Json(json));

        Assert.True(errors.TryGetProperty(field, out _), $"expected an error on '{field}', got {errors}");
    }

    [Fact]
    public async Task Rank_EmptyBody_Returns400()
    {
        var errors = await PostInvalidAsync("/v1/rank", Json(""));

        Assert.True(errors.TryGetProperty("body", out _));
    }

    [Fact]
    public async Task Rank_TooManyCandidates_Returns400()
    {
        var request = new RankRequest { UserId = "u", Candidates = [.. Enumerable.Range(0, RankRequest.MaxCandidates + 1).Select(i => new Candidate { AdId = $"a{i}" })] };

        var errors = await PostInvalidAsync("/v1/rank", JsonContent.Create(request, options: MeshJson.Options));

        Assert.Contains("1000", errors.GetProperty("candidates")[0].GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/rank", true)]
    [InlineData("/v1/rank", false)]
    [InlineData("/v1/events", true)]
    [InlineData("/v1/feedback", false)]
    public async Task Post_OversizedBody_Returns413NamingTheBody(string path, bool withLength)
    {
        var huge = Json("{\"userId\":\"" + new string('u', 2 * 1024 * 1024) + "\"}");
        if (!withLength)
        {
            huge.Headers.ContentLength = null; // chunked: the limit is found while reading
        }

        var response = await _client.PostAsync(path, huge);

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(413, problem.GetProperty("status").GetInt32());
        Assert.Contains("1048576", problem.GetProperty("errors").GetProperty("body")[0].GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/rank", """{"userId":"u","candidates":[{"adId":"a","category":"LONG"}]}""", "candidates[0].category")]
    [InlineData("/v1/rank", """{"userId":"u","candidates":[{"adId":"a"}],"context":{"surface":"LONG"}}""", "context.surface")]
    [InlineData("/v1/rank", """{"userId":"u","candidates":[{"adId":"a"}],"context":{"device":null}}""", "context.device")]
    [InlineData("/v1/rank", """{"userId":"u","candidates":[{"adId":"ID"}]}""", "candidates[0].adId")]
    [InlineData("/v1/events", """{"userId":"u","itemId":"i","category":"LONG"}""", "category")]
    [InlineData("/v1/events", """{"userId":"u","itemId":"ID"}""", "itemId")]
    [InlineData("/v1/feedback", """{"impressionId":"ID","userId":"u","adId":"a"}""", "impressionId")]
    public async Task Post_TextOverItsLimit_Returns400NamingTheField(string path, string json, string field)
    {
        json = json
            .Replace("LONG", new string('c', ApiLimits.MaxCategoryLength + 1), StringComparison.Ordinal)
            .Replace("ID", new string('i', ApiLimits.MaxIdLength + 1), StringComparison.Ordinal);

        var errors = await PostInvalidAsync(path, Json(json));

        Assert.True(errors.TryGetProperty(field, out _), $"expected an error on '{field}', got {errors}");
        Assert.Single(errors.EnumerateObject());
    }

    [Fact]
    public async Task Events_CategoryAtItsLimit_Accepted()
    {
        var json = $$"""{"userId":"u","itemId":"i","category":"{{new string('c', ApiLimits.MaxCategoryLength)}}"}""";

        var response = await _client.PostAsync("/v1/events", Json(json));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Rank_BadInput_NeitherRanksNorPublishes()
    {
        await using var app = new RouterApp();
        var client = app.CreateClient();

        await client.PostAsync("/v1/rank", Json("""{"userId":"u","candidates":[]}"""));
        await app.Broker.WaitForIdleAsync();

        Assert.Empty(app.Ranker.Requests);
        Assert.Empty(app.Published<ImpressionsServed>());
    }

    [Fact]
    public async Task Events_Valid_PublishedToUserEvents()
    {
        var response = await _client.PostAsync("/v1/events", Json("""{"userId":"u9","kind":"engage","itemId":"i1","category":"c3"}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await _app.Broker.WaitForIdleAsync();
        var e = _app.Published<UserActed>().Single(x => x.UserId == "u9");
        Assert.Equal((UserActionKind.Engage, "i1", "c3"), (e.Kind, e.ItemId, e.Category));
        Assert.Equal(_app.Clock.GetUtcNow(), e.OccurredAt);
    }

    [Theory]
    [InlineData("""{"kind":"view","itemId":"i"}""", "userId")]
    [InlineData("""{"userId":"u","kind":"teleport","itemId":"i"}""", "kind")]
    [InlineData("""{"userId":"u"}""", "itemId")]
    public async Task Events_BadInput_Returns400NamingTheField(string json, string field)
    {
        var errors = await PostInvalidAsync("/v1/events", Json(json));

        Assert.True(errors.TryGetProperty(field, out _), errors.ToString());
    }

    [Fact]
    public async Task Feedback_Valid_PublishedToFeedback()
    {
        var response = await _client.PostAsync("/v1/feedback", Json("""{"impressionId":"r1-0","userId":"u","adId":"a"}"""));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await _app.Broker.WaitForIdleAsync();
        Assert.Contains(_app.Published<FeedbackReceived>(), f => f.ImpressionId == "r1-0" && f.Kind == FeedbackKind.Click);
    }

    [Theory]
    [InlineData("noClick", FeedbackKind.NoClick)]
    [InlineData("conversion", FeedbackKind.Conversion)]
    public async Task Feedback_ExplicitKind_PublishedWithItsKindAndTime(string kind, FeedbackKind expected)
    {
        var json = $$"""{"impressionId":"r2-{{kind}}","userId":"u","adId":"a","kind":"{{kind}}","occurredAt":"2024-03-01T08:00:05+00:00"}""";
        var response = await _client.PostAsync("/v1/feedback", Json(json));

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await _app.Broker.WaitForIdleAsync();
        var f = _app.Published<FeedbackReceived>().Single(f => f.ImpressionId == $"r2-{kind}");
        Assert.Equal((expected, new DateTimeOffset(2024, 3, 1, 8, 0, 5, TimeSpan.Zero)), (f.Kind, f.OccurredAt));
    }

    [Theory]
    [InlineData("""{"impressionId":"i","userId":"u","adId":"a","kind":"skip"}""")]
    [InlineData("""{"impressionId":"i","userId":"u","adId":"a","kind":7}""")]
    public async Task Feedback_UnknownKind_Returns400NamingKind(string json)
    {
        var errors = await PostInvalidAsync("/v1/feedback", Json(json));

        Assert.True(errors.TryGetProperty("kind", out _), errors.ToString());
    }

    [Fact]
    public async Task Rank_WithEventTime_ImpressionsCarryItBesideTheRoutersClock()
    {
        var occurredAt = new DateTimeOffset(2024, 3, 1, 8, 0, 0, TimeSpan.Zero);
        var response = await _client.PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u-replay", Candidates = [new Candidate { AdId = "a" }], OccurredAt = occurredAt }, MeshJson.Options);
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        await WaitForImpressionsAsync(body.RequestId);

        var served = _app.Published<ImpressionsServed>().Single(e => e.RequestId == body.RequestId);
        Assert.Equal((occurredAt, _app.Clock.GetUtcNow(), 3), (served.OccurredAt, served.ServedAt, served.SchemaVersion));
    }

    [Fact]
    public async Task Rank_WithoutEventTime_OccurredAtIsServedAt()
    {
        var response = await _client.PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u-live", Candidates = [new Candidate { AdId = "a" }] }, MeshJson.Options);
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        await WaitForImpressionsAsync(body.RequestId);

        var served = _app.Published<ImpressionsServed>().Single(e => e.RequestId == body.RequestId);
        Assert.Equal(served.ServedAt, served.OccurredAt);
    }

    [Fact]
    public async Task Feedback_MissingImpression_Returns400()
    {
        var errors = await PostInvalidAsync("/v1/feedback", Json("""{"userId":"u","adId":"a"}"""));

        Assert.True(errors.TryGetProperty("impressionId", out _));
    }

    [Fact]
    public async Task OpenApi_Document_DescribesRank()
    {
        var doc = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        Assert.True(doc.GetProperty("paths").TryGetProperty("/v1/rank", out _));
    }

    [Fact]
    public async Task Stats_AfterRequests_ReportsCountsAndModelVersion()
    {
        await using var app = new RouterApp();
        var client = app.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            await client.PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u", Candidates = [new Candidate { AdId = "a" }] }, MeshJson.Options);
        }

        var stats = await client.GetFromJsonAsync<JsonElement>("/v1/stats");

        Assert.Equal(3, stats.GetProperty("requests").GetInt64());
        Assert.Equal(7, stats.GetProperty("modelVersion").GetInt64());
        Assert.Equal(0.25, stats.GetProperty("precomputeHitRate").GetDouble());
    }

    private async Task WaitForImpressionsAsync(string requestId)
    {
        // The publisher runs in the background; once it handed the event over, the broker's idle wait covers delivery.
        await _app.Services.GetRequiredService<Mesh.Router.Impressions.ImpressionQueue>().WhenPublishedAsync();
        await _app.Broker.WaitForIdleAsync();
        Assert.Contains(_app.Published<ImpressionsServed>(), e => e.RequestId == requestId);
    }
}
