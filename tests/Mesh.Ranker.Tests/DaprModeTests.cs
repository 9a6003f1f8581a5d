using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Mesh.Contracts;
using Mesh.Testing;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Mesh.Ranker.Tests;

/// <summary>The real ranker app on the Dapr runtime (the SDK): what the fake sidecar sees of it.</summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    private FakeDaprSidecar _sidecar = null!;
    private WebApplicationFactory<RankerOptions> _app = null!;

    public async Task InitializeAsync()
    {
        _sidecar = await FakeDaprSidecar.StartAsync();
        _app = new WebApplicationFactory<RankerOptions>().WithWebHostBuilder(b =>
        {
            _sidecar.Configure(b);
            b.UseSetting("Ranker:PrecomputedTimeout", "00:01:00"); // the deadline runs on the real clock here; the test is about the calls
        });
        await _sidecar.ConnectAppAsync(AppIds.Ranker, _app.CreateClient());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public void Subscribe_ListsModelPublishedWithDeadLetter()
    {
        var s = Assert.Single(_sidecar.SubscriptionsOf(AppIds.Ranker))!;

        Assert.Equal(
            ("pubsub", Topics.ModelPublished, "events/model-published", Topics.DeadLetters),
            (s["pubsubName"]!.GetValue<string>(), s["topic"]!.GetValue<string>(), s["route"]!.GetValue<string>(), s["deadLetterTopic"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Score_InvokedThroughTheSidecar_ReadsPrecomputedInBulkAndAnswers200()
    {
        const string body = """
            {"requestId":"r1","userId":"u1","userEmbedding":[],"context":{"surface":"feed","device":"ios","hour":3},
             "candidates":[{"adId":"a1","category":"c1"},{"adId":"a2","category":"c2"}],
             "cascade":[{"tier":"small","keep":2},{"tier":"large","keep":1,"exitThreshold":0.5}]}
            """;

        // What the router's SDK does: POST /v1.0/invoke/ranker/method/score on its sidecar.
        using var http = new HttpClient { BaseAddress = _sidecar.HttpEndpoint };
        using var response = await http.PostAsync(new Uri("v1.0/invoke/ranker/method/score", UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));

        response.EnsureSuccessStatusCode();
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Single(reply.GetProperty("items").EnumerateArray());
        // Small: 2 candidates through its one layer; large: 2 through three layers (the untrained model ties: none exits).
        Assert.Equal(2 + 6, reply.GetProperty("candidateLayers").GetInt64());
        var bulk = Assert.Single(_sidecar.CallsTo("GetBulkState"));
        Assert.Equal(Components.PrecomputedStore, bulk.Target);
        Assert.Equal(["u1:a1", "u1:a2"], bulk.Key.Split(',').Order());
    }

    [Fact]
    public async Task ModelPublished_CheckpointMissing_AnswersRetry()
    {
        var (status, reply) = await _sidecar.DeliverAsync(AppIds.Ranker, Topics.ModelPublished, "5929aaac-a5e2-4ca1-859c-edfe73f11565", """
            {"schemaVersion":1,"modelName":"ranker","version":3,"checkpointKey":"ranker.v3","publishedAt":"2026-01-05T12:00:00Z",
             "trainedExamples":6000,"validationNe":0.93,"previousNe":0.95}
            """, source: AppIds.Trainer);

        Assert.Equal((200, """{"status":"RETRY"}"""), (status, reply));
        Assert.Contains(_sidecar.CallsTo("GetState"), c => (c.Target, c.Key) == (Components.ModelStore, "ranker.v3"));
    }
}
