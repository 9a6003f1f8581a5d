using Mesh.Contracts;
using Mesh.Models;
using Mesh.Runtime;
using Mesh.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Precompute.Tests;

/// <summary>The real precompute app on the Dapr runtime (the SDK): CloudEvents in from a fake sidecar, the calls it makes of it out.</summary>
public sealed class DaprModeTests : IAsyncLifetime
{
    // A stored user embedding, as the embeddings store holds it.
    private static readonly string StoredEmbedding =
        $$"""{"vector":[{{string.Join(',', Enumerable.Repeat("0.125", ItemVectors.Dimension))}}],"modelVersion":1,"computedAt":"2026-01-05T11:59:30+00:00","eventCount":3}""";

    private const string Impressions = """
        {"schemaVersion":1,"requestId":"r1","userId":"u1","servedAt":"2026-01-05T11:59:59+00:00",
         "context":{"surface":"feed","device":"ios","hour":11},"modelVersion":2,"tier":"large",
         "embedding":{"source":"store","vector":[],"modelVersion":1,"ageMs":29000},"candidateCount":2,
         "items":[{"impressionId":"i1","adId":"a1","category":"c1","position":0,"score":0.3},
                  {"impressionId":"i2","adId":"a2","category":"c2","position":1,"score":0.1}]}
        """;

    private FakeDaprSidecar _sidecar = null!;
    private WebApplicationFactory<PrecomputeOptions> _app = null!;

    private SubscriptionCounters ImpressionCounters => _app.Services.GetRequiredService<DeliveryMetrics>().For(AppIds.Precompute, Topics.Impressions);

    public async Task InitializeAsync()
    {
        _sidecar = await FakeDaprSidecar.StartAsync();
        _app = new WebApplicationFactory<PrecomputeOptions>().WithWebHostBuilder(b =>
        {
            _sidecar.Configure(b);
            b.ConfigureTestServices(s => s.AddSingleton<TimeProvider>(TestClock.Create()));
        });
        await _sidecar.ConnectAppAsync(AppIds.Precompute, _app.CreateClient());
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        await _sidecar.DisposeAsync();
    }

    [Fact]
    public void Subscribe_ListsItsThreeTopicsWithDeadLetters()
    {
        var subscriptions = _sidecar.SubscriptionsOf(AppIds.Precompute);

        Assert.Equal(
            [(Topics.Impressions, "events/impressions"), (Topics.UserEmbeddings, "events/user-embeddings"), (Topics.UserEvents, "events/user-events")],
            subscriptions.Select(s => (s!["topic"]!.GetValue<string>(), s["route"]!.GetValue<string>())));
        Assert.All(subscriptions, s => Assert.Equal(("pubsub", Topics.DeadLetters), (s!["pubsubName"]!.GetValue<string>(), s["deadLetterTopic"]!.GetValue<string>())));
    }

    [Fact]
    public async Task Impressions_KnownUser_ReadsEmbeddingThenUpsertsRepresentationsInOneTransactionWithTtl()
    {
        _sidecar.SetState(Components.EmbeddingStore, "u1", StoredEmbedding);

        var (status, reply) = await _sidecar.DeliverAsync(AppIds.Precompute, Topics.Impressions, "ce-1", Impressions);

        Assert.Equal((200, """{"status":"SUCCESS"}"""), (status, reply));
        Assert.Equal(["GetState", "ExecuteStateTransaction", "ExecuteStateTransaction"], StateCalls().Select(c => c.Api));
        Assert.Equal((Components.EmbeddingStore, "u1"), (StateCalls()[0].Target, StateCalls()[0].Key));
        var operations = _sidecar.CallsTo("ExecuteStateTransaction");
        Assert.All(operations, o =>
        {
            Assert.Equal((Components.PrecomputedStore, "upsert", null), (o.Target, o.Operation, o.ETag));
            // 120 s is the default TTL; metadata values are strings on the wire.
            Assert.Equal(new Dictionary<string, string> { ["ttlInSeconds"] = "120" }, o.Metadata);
            Assert.Equal(FoundationModel.Dimension, o.Json.GetProperty("vector").GetArrayLength());
            // As of the impression's event time (its servedAt, from a writer before occurredAt), not the clock's 12:00:00.
            Assert.Equal("2026-01-05T11:59:59+00:00", o.Json.GetProperty("computedAt").GetString());
        });
        Assert.Equal(["u1:a1", "u1:a2"], operations.Select(o => o.Key));
        Assert.NotNull(_sidecar.StateOf(Components.PrecomputedStore, "u1:a1"));
    }

    [Fact]
    public async Task Impressions_SameCloudEventIdRedelivered_ComputesOnceAndAcksBoth()
    {
        _sidecar.SetState(Components.EmbeddingStore, "u1", StoredEmbedding);

        var first = await _sidecar.DeliverAsync(AppIds.Precompute, Topics.Impressions, "ce-dup", Impressions);
        var second = await _sidecar.DeliverAsync(AppIds.Precompute, Topics.Impressions, "ce-dup", Impressions);

        Assert.Equal((first.Body, second.Body), ("""{"status":"SUCCESS"}""", """{"status":"SUCCESS"}"""));
        Assert.Single(_sidecar.CallsTo("GetState"));
        Assert.Equal(2, _sidecar.CallsTo("ExecuteStateTransaction").Count);
        Assert.Equal((2L, 1L, 1L), (ImpressionCounters.Received, ImpressionCounters.Delivered, ImpressionCounters.Duplicates));
    }

    [Fact]
    public async Task Impressions_EmbeddingStoreFails_RepliesRetry()
    {
        _sidecar.Fail("GetState", Components.EmbeddingStore);

        var (_, reply) = await _sidecar.DeliverAsync(AppIds.Precompute, Topics.Impressions, "ce-2", Impressions);

        Assert.Equal("""{"status":"RETRY"}""", reply);
        Assert.Empty(_sidecar.CallsTo("ExecuteStateTransaction"));
    }

    [Fact]
    public async Task Impressions_TransactionFailsOnce_RetryThenTheRedeliveryWrites()
    {
        _sidecar.SetState(Components.EmbeddingStore, "u1", StoredEmbedding);
        _sidecar.Fail("ExecuteStateTransaction", Components.PrecomputedStore, times: 1);

        var first = await _sidecar.DeliverAsync(AppIds.Precompute, Topics.Impressions, "ce-3", Impressions);
        var redelivered = await _sidecar.DeliverAsync(AppIds.Precompute, Topics.Impressions, "ce-3", Impressions);

        // A failed attempt is not remembered as processed, so the redelivery does the work.
        Assert.Equal(("""{"status":"RETRY"}""", """{"status":"SUCCESS"}"""), (first.Body, redelivered.Body));
        Assert.NotNull(_sidecar.StateOf(Components.PrecomputedStore, "u1:a1"));
    }

    [Fact]
    public async Task UserEmbeddings_PoisonData_RepliesDrop()
    {
        var (_, reply) = await _sidecar.DeliverAsync(AppIds.Precompute, Topics.UserEmbeddings, "ce-4", """{"userId":"u1","embedding":"not an embedding"}""");

        Assert.Equal("""{"status":"DROP"}""", reply);
        Assert.Empty(StateCalls());
    }

    // What the app asked of daprd's state API.
    private List<SidecarCall> StateCalls() => [.. _sidecar.Calls.Where(c => c.Api is "GetState" or "GetBulkState" or "SaveState" or "ExecuteStateTransaction")];
}
