using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Router.Api;

namespace Mesh.Router.Tests.Api;

public sealed class ApiAccessTests
{
    private static readonly RankRequest Rank = new() { UserId = "u1", Candidates = [new Candidate { AdId = "a1", Category = "c1" }] };

    private static readonly Dictionary<string, string?> TwoClients = new()
    {
        ["ApiAccess:Keys:partner-a"] = "key-of-a",
        ["ApiAccess:Keys:partner-b"] = "key-of-b",
    };

    private static HttpRequestMessage RankWith(string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/rank") { Content = JsonContent.Create(Rank, options: MeshJson.Options) };
        if (key is not null)
        {
            request.Headers.Add(ApiAccessOptions.KeyHeader, key);
        }

        return request;
    }

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    [Fact]
    public async Task Rank_NoKeysConfigured_AnswersWithoutAKey()
    {
        await using var app = new RouterApp();

        var response = await app.CreateClient().SendAsync(RankWith(null));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Rank_KeysConfiguredAndNoKey_Returns401ProblemNamingTheHeader()
    {
        await using var app = RouterApp.WithSettings(TwoClients);

        var response = await app.CreateClient().SendAsync(RankWith(null));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("ApiKey header=\"X-Api-Key\"", response.Headers.WwwAuthenticate.ToString());
        var problem = await ProblemAsync(response);
        Assert.Equal("An API key is required.", problem.GetProperty("title").GetString());
        Assert.Empty(app.Ranker.Requests);
    }

    [Fact]
    public async Task Rank_UnknownKey_Returns401SayingTheKeyIsNotValid()
    {
        await using var app = RouterApp.WithSettings(TwoClients);

        var response = await app.CreateClient().SendAsync(RankWith("key-of-c"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("The API key is not valid.", (await ProblemAsync(response)).GetProperty("title").GetString());
    }

    [Fact]
    public async Task Rank_KnownKey_IsServed()
    {
        await using var app = RouterApp.WithSettings(TwoClients);

        var response = await app.CreateClient().SendAsync(RankWith("key-of-b"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Single(app.Ranker.Requests);
    }

    [Theory]
    [InlineData("/v1/events")]
    [InlineData("/v1/feedback")]
    public async Task Ingest_KeysConfiguredAndNoKey_Returns401AndPublishesNothing(string path)
    {
        await using var app = RouterApp.WithSettings(TwoClients);

        var response = await app.CreateClient().PostAsync(path, new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Empty(app.Published<UserActed>());
        Assert.Empty(app.Published<FeedbackReceived>());
    }

    [Theory]
    [InlineData("/healthz")]
    [InlineData("/v1/stats")]
    public async Task Operations_KeysConfigured_NeedNoKey(string path)
    {
        await using var app = RouterApp.WithSettings(TwoClients);

        var response = await app.CreateClient().GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Rank_ClientOverItsBucket_Returns429WithRetryAfterWhileAnotherClientIsServed()
    {
        // One token an hour on a bucket of two: the third request of a client is over its limit however slow the machine.
        await using var app = RouterApp.WithSettings(new Dictionary<string, string?>(TwoClients)
        {
            ["ApiAccess:TokensPerPeriod"] = "1",
            ["ApiAccess:ReplenishmentPeriod"] = "01:00:00",
            ["ApiAccess:TokenLimit"] = "2",
        });
        var client = app.CreateClient();

        var first = await client.SendAsync(RankWith("key-of-a"));
        var second = await client.SendAsync(RankWith("key-of-a"));
        var third = await client.SendAsync(RankWith("key-of-a"));
        var other = await client.SendAsync(RankWith("key-of-b"));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.True(int.Parse(third.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal(429, (await ProblemAsync(third)).GetProperty("status").GetInt32());
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(3, app.Ranker.Requests.Count);
    }

    [Fact]
    public async Task Rank_LimitWithoutKeys_CountsByRemoteAddress()
    {
        await using var app = RouterApp.WithSettings(new Dictionary<string, string?>
        {
            ["ApiAccess:TokensPerPeriod"] = "1",
            ["ApiAccess:ReplenishmentPeriod"] = "01:00:00",
            ["ApiAccess:TokenLimit"] = "1",
        });
        var client = app.CreateClient();

        var first = await client.SendAsync(RankWith(null));
        var second = await client.SendAsync(RankWith(null));

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
    }
}
