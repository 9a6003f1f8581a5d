using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Router.Impressions;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Router.Tests;

/// <summary>The real router app on the Dapr runtime, against a loopback server playing daprd.</summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private DaprModeApp<RouterOptions> _mesh = null!;

    public async Task InitializeAsync() => _mesh = await DaprModeApp.StartAsync<RouterOptions>(
        ("Router:StoreTimeout", "00:01:00")); // the deadline runs on the real clock here; the test is about the requests

    public async Task DisposeAsync() => await _mesh.DisposeAsync();

    [Fact]
    public async Task Rank_OnDapr_ReadsStateInvokesRankerAndPublishesImpressions()
    {
        _mesh.Sidecar.On("GET", "/v1.0/state/embeddings/u1", FakeResponse.Json(
            """{"vector":[0.5,0.25],"modelVersion":3,"computedAt":"2026-01-05T12:00:00+00:00","eventCount":4}""",
            headers: new Dictionary<string, string> { ["ETag"] = "7" }));
        _mesh.Sidecar.On("POST", "/v1.0/invoke/ranker/method/score", FakeResponse.Json(
            """{"modelVersion":9,"items":[{"adId":"a2","category":"c","score":0.3},{"adId":"a1","category":"c","score":0.1}],"precomputedHits":0,"precomputedLookups":2}"""));
        var client = _mesh.App.CreateClient();

        var response = await client.PostAsJsonAsync("/v1/rank", new RankRequest
        {
            UserId = "u1",
            Candidates = [new Candidate { AdId = "a1", Category = "c" }, new Candidate { AdId = "a2", Category = "c" }],
            K = 2,
        }, MeshJson.Options);
        await _mesh.App.Services.GetRequiredService<ImpressionQueue>().WhenPublishedAsync();

        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        Assert.Equal(["a2", "a1"], body.Items.Select(i => i.AdId));
        Assert.Equal((9, EmbeddingSource.Store), (body.ModelVersion, body.Embedding.Source));

        var score = Assert.Single(_mesh.Sidecar.RequestsTo("POST", "/v1.0/invoke/ranker/method/score"));
        Assert.StartsWith("application/json", score.ContentType, StringComparison.Ordinal);
        var sent = JsonDocument.Parse(score.Body).RootElement;
        Assert.Equal([0.5f, 0.25f], sent.GetProperty("userEmbedding").EnumerateArray().Select(e => e.GetSingle()));
        Assert.Equal(["small", "large"], sent.GetProperty("cascade").EnumerateArray().Select(s => s.GetProperty("tier").GetString()));

        var publish = Assert.Single(_mesh.Sidecar.RequestsTo("POST", "/v1.0/publish/pubsub/impressions"));
        Assert.Equal("application/json", publish.ContentType?.Split(';')[0]);
        var impressions = JsonDocument.Parse(publish.Body).RootElement;
        Assert.Equal(body.RequestId, impressions.GetProperty("requestId").GetString());
        Assert.Equal("store", impressions.GetProperty("embedding").GetProperty("source").GetString());
    }

    [Fact]
    public async Task Rank_StateStoreFailing_StillServesWithDefaultEmbedding()
    {
        _mesh.Sidecar.On("GET", "/v1.0/state/embeddings/u2", FakeResponse.Error(500, "ERR_STATE_GET", "redis down"));
        _mesh.Sidecar.On("POST", "/v1.0/invoke/ranker/method/score", FakeResponse.Json(
            """{"modelVersion":1,"items":[{"adId":"a1","category":"c","score":0.1}],"precomputedHits":0,"precomputedLookups":0}"""));

        var response = await _mesh.App.CreateClient().PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u2", Candidates = [new Candidate { AdId = "a1" }] }, MeshJson.Options);

        response.EnsureSuccessStatusCode();
        Assert.Equal(EmbeddingSource.Default, (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!.Embedding.Source);
    }

    [Fact]
    public async Task Rank_RankerAnswers500_Returns503()
    {
        _mesh.Sidecar.On("POST", "/v1.0/invoke/ranker/method/score", FakeResponse.Error(500, "ERR_DIRECT_INVOKE", "failed to invoke, id: ranker"));

        var response = await _mesh.App.CreateClient().PostAsJsonAsync("/v1/rank", new RankRequest { UserId = "u3", Candidates = [new Candidate { AdId = "a1" }] }, MeshJson.Options);

        Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, response.StatusCode);
    }

    [Fact]
    public async Task Events_OnDapr_PublishedAsJson()
    {
        var response = await _mesh.App.CreateClient().PostAsJsonAsync("/v1/events", new { userId = "u1", kind = "view", itemId = "i1", category = "c1" });

        Assert.Equal(System.Net.HttpStatusCode.Accepted, response.StatusCode);
        var publish = Assert.Single(_mesh.Sidecar.RequestsTo("POST", "/v1.0/publish/pubsub/user-events"));
        Assert.Equal("u1", JsonDocument.Parse(publish.Body).RootElement.GetProperty("userId").GetString());
    }
}
