using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Router.Impressions;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Router.Tests.Features;

/// <summary>The router with a configured feature space: one feature of each kind and side, as the command line gives them.</summary>
public sealed class FeatureRouterApp : IAsyncDisposable
{
    public RouterApp App { get; } = RouterApp.WithSettings(new Dictionary<string, string?>
    {
        ["FeatureSpace:Features:0:Name"] = "segment",
        ["FeatureSpace:Features:0:Side"] = "Context",
        ["FeatureSpace:Features:0:Kind"] = "Categorical",
        ["FeatureSpace:Features:0:Buckets"] = "1024",
        ["FeatureSpace:Features:1:Name"] = "spend",
        ["FeatureSpace:Features:1:Side"] = "Context",
        ["FeatureSpace:Features:1:Kind"] = "Numeric",
        ["FeatureSpace:Features:1:Transform"] = "Log1p",
        ["FeatureSpace:Features:2:Name"] = "tags",
        ["FeatureSpace:Features:2:Side"] = "Candidate",
        ["FeatureSpace:Features:2:Kind"] = "Categorical",
        ["FeatureSpace:Features:2:Buckets"] = "4096",
        ["FeatureSpace:Features:2:MaxValues"] = "2",
        ["FeatureSpace:Features:3:Name"] = "price",
        ["FeatureSpace:Features:3:Side"] = "Candidate",
        ["FeatureSpace:Features:3:Kind"] = "Numeric",
    });

    public ValueTask DisposeAsync() => App.DisposeAsync();
}

public sealed class FeatureTests(FeatureRouterApp fixture) : IClassFixture<FeatureRouterApp>
{
    private readonly RouterApp _app = fixture.App;

    [Theory]
    [InlineData("""{"context":{"features":{"segment":{"tier":"gold"}}}}""", "context.features.segment")]
    [InlineData("""{"context":{"features":{"segment":true}}}""", "context.features.segment")]
    [InlineData("""{"context":{"features":{"segment":[["a"]]}}}""", "context.features.segment")]
    [InlineData("""{"context":{"features":{"spend":"12"}}}""", "context.features.spend")]
    [InlineData("""{"context":{"features":{"spend":[12]}}}""", "context.features.spend")]
    [InlineData("""{"candidates":[{"adId":"a"},{"adId":"b","features":{"price":"cheap"}}]}""", "candidates[1].features.price")]
    [InlineData("""{"candidates":[{"adId":"a"},{"adId":"b","features":{"price":1e400}}]}""", "candidates[1].features.price")]
    [InlineData("""{"candidates":[{"adId":"a","features":{"tags":["x",{"y":1}]}}]}""", "candidates[0].features.tags")]
    [InlineData("""{"candidates":[{"adId":"a","features":{"tags":false}}]}""", "candidates[0].features.tags")]
    [InlineData("""{"candidates":[{"adId":"a","features":{"tags":["LONG"]}}]}""", "candidates[0].features.tags")]
    [InlineData("""{"context":{"features":{"segment":"LONG"}}}""", "context.features.segment")]
    [InlineData("""{"candidates":[{"adId":"a","features":{"tags":MANY}}]}""", "candidates[0].features.tags")]
    [InlineData("""{"candidates":[{"adId":"a","features":{"NAME":1}}]}""", "candidates[0].features")]
    [InlineData("""{"context":{"features":ENTRIES}}""", "context.features")]
    public async Task Rank_AFeatureOfTheWrongKindOrOverALimit_Returns400NamingTheField(string json, string field)
    {
        // Placeholders for values too long to write out: one over each limit of ApiLimits.
        json = json
            .Replace("LONG", new string('v', ApiLimits.MaxFeatureValueLength + 1), StringComparison.Ordinal)
            .Replace("MANY", JsonSerializer.Serialize(Enumerable.Range(0, ApiLimits.MaxFeatureValues + 1).Select(i => "t" + i)), StringComparison.Ordinal)
            .Replace("NAME", new string('n', ApiLimits.MaxFeatureNameLength + 1), StringComparison.Ordinal)
            .Replace("ENTRIES", JsonSerializer.Serialize(Enumerable.Range(0, ApiLimits.MaxFeatures + 1).ToDictionary(i => "f" + i, i => i)), StringComparison.Ordinal);
        using var request = JsonDocument.Parse(json);
        var body = new Dictionary<string, object> { ["userId"] = "u" };
        foreach (var property in request.RootElement.EnumerateObject())
        {
            body[property.Name] = property.Value;
        }

        body.TryAdd("candidates", new[] { new { adId = "a" } });
        var response = await _app.CreateClient().PostAsJsonAsync("/v1/rank", body);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"expected an error on '{field}', got {errors}");
        Assert.Single(errors.EnumerateObject());
    }

    [Fact]
    public async Task Rank_FeaturesAtEveryLimit_Accepted()
    {
        var atLimit = new string('v', ApiLimits.MaxFeatureValueLength);
        var body = new
        {
            userId = "u-limits",
            context = new { features = Enumerable.Range(0, ApiLimits.MaxFeatures - 1).ToDictionary(i => "f" + i, i => (object)i).Append(new("segment", atLimit)).ToDictionary() },
            candidates = new[]
            {
                new { adId = "a", features = new Dictionary<string, object> { ["tags"] = Enumerable.Repeat(atLimit, ApiLimits.MaxFeatureValues), [new string('n', ApiLimits.MaxFeatureNameLength)] = 1 } },
            },
        };

        var response = await _app.CreateClient().PostAsJsonAsync("/v1/rank", body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Rank_ValidFeatures_ServedAndLoggedAsTheModelReadsThem()
    {
        const string Json = """
            {"userId":"u-features","k":2,
             "context":{"features":{"segment":42,"spend":3.5,"browser":"firefox","tags":["ctx"]}},
             "candidates":[
               {"adId":"a","features":{"tags":["x",7,"z"],"price":19.99,"colour":"red"}},
               {"adId":"b","features":{"tags":"y","price":null,"segment":"s"}},
               {"adId":"c"}]}
            """;
        var before = await FeatureStatsAsync();

        var response = await _app.CreateClient().PostAsync("/v1/rank", new StringContent(Json, Encoding.UTF8, "application/json"));

        response.EnsureSuccessStatusCode();
        var body = (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!;
        var scored = _app.Ranker.Requests.Single(r => r.UserId == "u-features");
        Assert.Equal(["segment", "spend"], scored.Context.Features!.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["x", "7"], scored.Candidates[0].Features!["tags"].EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Number ? v.GetRawText() : v.GetString()));
        Assert.Equal(["tags"], scored.Candidates[1].Features!.Keys); // a null is absent; a context feature on a candidate is unknown there
        Assert.Null(scored.Candidates[2].Features);

        await _app.Services.GetRequiredService<ImpressionQueue>().WhenPublishedAsync();
        await _app.Broker.WaitForIdleAsync();
        var served = _app.Published<ImpressionsServed>().Single(e => e.RequestId == body.RequestId);
        Assert.Equal(42, served.Context.Features!["segment"].GetInt32());
        Assert.Equal(3.5, served.Context.Features["spend"].GetDouble());
        Assert.False(served.Context.Features.ContainsKey("browser"));
        var first = served.Items.Single(i => i.AdId == "a").Features!;
        Assert.Equal(["price", "tags"], first.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(19.99, first["price"].GetDouble());
        Assert.Equal(2, first["tags"].GetArrayLength());
        Assert.Equal("y", served.Items.Single(i => i.AdId == "b").Features!["tags"].GetString());

        var after = await FeatureStatsAsync();
        Assert.Equal(4, after.Unknown - before.Unknown); // browser and tags (context), colour, segment (candidate)
        Assert.Equal(1, after.Dropped - before.Dropped); // "z", beyond tags' 2 values
    }

    [Fact]
    public async Task Rank_NoFeatureSpaceConfigured_IgnoresAndCountsEveryFeature()
    {
        await using var app = new RouterApp();
        var client = app.CreateClient();
        const string Json = """{"userId":"u","context":{"features":{"segment":{"a":1}}},"candidates":[{"adId":"a","features":{"price":"x"}}]}""";

        var response = await client.PostAsync("/v1/rank", new StringContent(Json, Encoding.UTF8, "application/json"));

        response.EnsureSuccessStatusCode();
        Assert.Null(app.Ranker.Requests.Single().Context.Features);
        Assert.Null(app.Ranker.Requests.Single().Candidates[0].Features);
        var stats = await client.GetFromJsonAsync<JsonElement>("/v1/stats");
        Assert.Equal(2, stats.GetProperty("features").GetProperty("unknownIgnored").GetInt64());
    }

    private async Task<(long Unknown, long Dropped)> FeatureStatsAsync()
    {
        var features = (await _app.CreateClient().GetFromJsonAsync<JsonElement>("/v1/stats")).GetProperty("features");
        return (features.GetProperty("unknownIgnored").GetInt64(), features.GetProperty("valuesDropped").GetInt64());
    }
}
