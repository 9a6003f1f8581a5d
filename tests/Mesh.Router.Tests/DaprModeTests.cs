using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Router.Impressions;
using Mesh.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Router.Tests;

/// <summary>The real router app on the Dapr runtime (the SDK), against an in-process fake sidecar.</summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private FakeDaprSidecar _sidecar = null!;
    private WebApplicationFactory<RouterOptions> _app = null!;

    public async Task InitializeAsync()
    {
        _sidecar = await FakeDaprSidecar.StartAsync();
        _app = new WebApplicationFactory<RouterOptions>().WithWebHostBuilder(b =>
        {
            _sidecar.Configure(b);
            b.UseSetting("Router:StoreTimeout", "00:01:00"); // the deadline runs on the real clock here; the test is about the calls
        });
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public async Task Rank_ReadsEmbeddingInvokesRankerScoreAndPublishesImpressions()
    {
        _sidecar.SetState(Components.EmbeddingStore, "u1", """{"vector":[0.5,0.25],"modelVersion":3,"computedAt":"2026-01-05T12:00:00+00:00","eventCount":4}""");
        _sidecar.Answer(AppIds.Ranker, Methods.Score,
            """{"modelVersion":9,"items":[{"adId":"a2","category":"c","score":0.3},{"adId":"a1","category":"c","score":0.1}],"precomputedHits":0,"precomputedLookups":2}""");

        var response = await _app.CreateClient().PostAsJsonAsync("/v1/rank", new RankRequest
        {
            UserId = "u1",
            Candidates = [new Candidate { AdId = "a1", Category = "c" }, new Candidate { AdId = "a2", Category = "c" }],
            K = 2,

            // The budget runs on the real clock here: the largest one, so a slow machine still leaves room for the cascade.
            BudgetMs = RankRequest.MaxBudgetMs,
        }, MeshJson.Options);
        await _app.Services.GetRequiredService<ImpressionQueue>().WhenPublishedAsync();

        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        Assert.Equal(["a2", "a1"], body.Items.Select(i => i.AdId));
        Assert.Equal((9, EmbeddingSource.Store), (body.ModelVersion, body.Embedding.Source));

        Assert.Equal((Components.EmbeddingStore, "u1"), (_sidecar.CallsTo("GetState")[0].Target, _sidecar.CallsTo("GetState")[0].Key));
        var score = Assert.Single(_sidecar.CallsTo("InvokeService"));
        Assert.Equal((AppIds.Ranker, Methods.Score, "POST"), (score.Target, score.Key, score.HttpMethod));
        Assert.StartsWith("application/json", score.ContentType, StringComparison.Ordinal);
        Assert.Equal([0.5f, 0.25f], score.Json.GetProperty("userEmbedding").EnumerateArray().Select(e => e.GetSingle()));
        Assert.Equal(["small", "large"], score.Json.GetProperty("cascade").EnumerateArray().Select(s => s.GetProperty("tier").GetString()));

        var publish = Assert.Single(_sidecar.CallsTo("PublishEvent"));
        Assert.Equal(("pubsub", Topics.Impressions, "application/json"), (publish.Target, publish.Key, publish.ContentType));
        Assert.Equal(body.RequestId, publish.Json.GetProperty("requestId").GetString());
        Assert.Equal("store", publish.Json.GetProperty("embedding").GetProperty("source").GetString());
    }

    [Fact]
    public async Task Rank_StateStoreFailing_StillServesWithDefaultEmbedding()
    {
        _sidecar.Fail("GetState", Components.EmbeddingStore);
        _sidecar.Answer(AppIds.Ranker, Methods.Score, """{"modelVersion":1,"items":[{"adId":"a1","category":"c","score":0.1}],"precomputedHits":0,"precomputedLookups":0}""");

        var response = await _app.CreateClient().PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u2", Candidates = [new Candidate { AdId = "a1" }] }, MeshJson.Options);

        response.EnsureSuccessStatusCode();
        Assert.Equal(EmbeddingSource.Default, (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!.Embedding.Source);
    }

    [Fact]
    public async Task Rank_RankerAnswers500_Returns503()
    {
        _sidecar.Fail("InvokeService", AppIds.Ranker);

        var response = await _app.CreateClient().PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u3", Candidates = [new Candidate { AdId = "a1" }] }, MeshJson.Options);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    /// <summary>Pins the JSON subscribers get against docs/events.md (the <c>user-events</c> example): camelCase, enums as strings.</summary>
    [Fact]
    public async Task UserEvent_PublishedJson_IsWhatDocsEventsMdDocuments()
    {
        var response = await _app.CreateClient().PostAsJsonAsync("/v1/events", new
        {
            userId = "u-1042",
            kind = "view",
            itemId = "item-88213",
            category = "outdoor",
            occurredAt = "2026-03-02T14:05:31.12+00:00",
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var publish = Assert.Single(_sidecar.CallsTo("PublishEvent"));
        Assert.Equal(("pubsub", Topics.UserEvents, "application/json"), (publish.Target, publish.Key, publish.ContentType));

        // The documented example's data, compared key by key (daprd re-encodes with sorted keys, the SDK writes in
        // declaration order, and readers must not depend on order). The router assigns eventId itself.
        const string documented = """
            {"category":"outdoor","eventId":"ev-7f3c2a9e","itemId":"item-88213","kind":"view",
             "occurredAt":"2026-03-02T14:05:31.12+00:00","schemaVersion":1,"userId":"u-1042"}
            """;
        var eventId = publish.Json.GetProperty("eventId").GetString()!;
        Assert.Matches("^[0-9a-f]{32}$", eventId);
        Assert.Equal(Sorted(JsonDocument.Parse(documented.Replace("ev-7f3c2a9e", eventId, StringComparison.Ordinal)).RootElement), Sorted(publish.Json));
    }

    private static SortedDictionary<string, string> Sorted(JsonElement json) =>
        new(json.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetRawText()), StringComparer.Ordinal);
}
