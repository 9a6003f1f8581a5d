using System.Net;
using System.Net.Http.Json;
using Mesh.Contracts;

namespace Mesh.Router.Tests;

/// <summary>The embedding store down for a minute (fault injection, <c>Faults:StoreOutage*</c>): the router keeps answering from its caches.</summary>
public sealed class StoreOutageTests
{
    private static RankRequest RankOf(string userId) => new() { UserId = userId, Candidates = [new Candidate { AdId = "a1", Category = "c1" }, new Candidate { AdId = "a2", Category = "c2" }] };

    [Fact]
    public async Task Rank_EmbeddingStoreDownForAMinute_AnswersFromFailoverThenDefaultWithNo5xx()
    {
        await using var app = RouterApp.WithSettings(new Dictionary<string, string?>
        {
            ["Faults:StoreOutageAfter"] = "00:00:40",
            ["Faults:StoreOutageFor"] = "00:01:00",
        });
        var client = app.CreateClient();
        await app.State.SaveAsync(Components.EmbeddingStore, "known", new UserEmbedding { Vector = [1, 2], ModelVersion = 4, ComputedAt = app.Clock.GetUtcNow() });
        var sources = new List<(string User, EmbeddingSource Source)>();

        async Task RankAsync(string userId)
        {
            var response = await client.PostAsJsonAsync("/v1/rank", RankOf(userId), MeshJson.Options);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            sources.Add((userId, (await response.Content.ReadFromJsonAsync<RankResponse>(MeshJson.Options))!.Embedding.Source));
        }

        await RankAsync("known"); // before the outage: read from the store, kept in both cache levels
        app.Clock.Advance(TimeSpan.FromSeconds(40)); // the outage starts; the direct cache (30 s) has expired
        for (var second = 0; second < 60; second += 5)
        {
            await RankAsync("known");
            await RankAsync($"new-{second}");
            app.Clock.Advance(TimeSpan.FromSeconds(5));
        }

        await RankAsync("known"); // the store is back

        Assert.Equal(EmbeddingSource.Store, sources[0].Source);
        Assert.All(sources.Skip(1).SkipLast(1).Where(s => s.User == "known"), s => Assert.NotEqual(EmbeddingSource.Store, s.Source));
        Assert.Contains(sources, s => s is { User: "known", Source: EmbeddingSource.Failover });
        Assert.All(sources.Where(s => s.User.StartsWith("new-", StringComparison.Ordinal)), s => Assert.Equal(EmbeddingSource.Default, s.Source));
        Assert.Equal(EmbeddingSource.Store, sources[^1].Source);
        Assert.Equal(sources.Count, app.Ranker.Requests.Count);
    }
}
