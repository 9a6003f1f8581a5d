using Mesh.Runtime.Dapr;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Tests.Sidecar;

public sealed class DaprSidecarClientStateTests : SidecarClientTests
{
    private IStateStore Store => Host.Services.GetRequiredService<IStateStore>();

    [Fact]
    public void StateStore_DaprRuntime_IsTheSidecarClient()
    {
        Assert.IsType<DaprSidecarClient>(Store);
        Assert.IsType<DaprSidecarClient>(Host.Services.GetRequiredService<IEventPublisher>());
        Assert.IsType<DaprSidecarClient>(Host.Services.GetRequiredService<IServiceInvoker>());
    }

    [Fact]
    public async Task GetAsync_KeyFound_ReturnsValueAndRawETag()
    {
        Sidecar.On("GET", "/v1.0/state/embeddings/u1", FakeResponse.Json("""{"id":"o1","quantity":2}""", headers: new Dictionary<string, string> { ["ETag"] = "7" }));

        var entry = await Store.GetAsync<Order>("embeddings", "u1");

        Assert.NotNull(entry);
        Assert.Equal(new Order("o1", 2), entry.Value);
        Assert.Equal("7", entry.ETag);
        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/v1.0/state/embeddings/u1", request.PathAndQuery);
    }

    [Fact]
    public async Task GetAsync_UuidETag_ReturnsItVerbatim()
    {
        const string ETag = "5f0d7a3e-2b1c-4f7e-9d8a-0c6b5e4d3a21";
        Sidecar.On("GET", "/v1.0/state/s/k", FakeResponse.Json("\"v\"", headers: new Dictionary<string, string> { ["ETag"] = ETag }));

        var entry = await Store.GetAsync<string>("s", "k");

        Assert.Equal(new StateEntry<string>("v", ETag), entry);
    }

    [Fact]
    public async Task GetAsync_KeyMissing204_ReturnsNull()
    {
        var entry = await Store.GetAsync<Order>("embeddings", "nobody");

        Assert.Null(entry);
    }

    [Fact]
    public async Task GetAsync_KeyWithReservedCharacters_EscapesPathSegment()
    {
        await Store.GetAsync<Order>("embeddings", "user/1 x");

        Assert.Equal("/v1.0/state/embeddings/user%2F1%20x", Assert.Single(Sidecar.Requests).PathAndQuery);
    }

    [Fact]
    public async Task GetAsync_UnknownStore400_ThrowsStateStoreExceptionWithErrorCode()
    {
        Sidecar.On("GET", "/v1.0/state/nope/k", FakeResponse.Error(400, "ERR_STATE_STORE_NOT_FOUND", "state store nope is not found"));

        var e = await Assert.ThrowsAsync<StateStoreException>(() => Store.GetAsync<Order>("nope", "k"));

        Assert.Contains("ERR_STATE_STORE_NOT_FOUND", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetAsync_ValueNotTheType_ThrowsStateStoreException()
    {
        Sidecar.On("GET", "/v1.0/state/s/k", FakeResponse.Json("[1,2]", headers: new Dictionary<string, string> { ["ETag"] = "1" }));

        await Assert.ThrowsAsync<StateStoreException>(() => Store.GetAsync<Order>("s", "k"));
    }

    [Fact]
    public async Task GetBulkAsync_FoundAndMissing_ReadsDataFieldInRequestOrder()
    {
        Sidecar.On("POST", "/v1.0/state/embeddings/bulk", FakeResponse.Json(
            """[{"key":"a","data":{"id":"a","quantity":1},"etag":"3","metadata":{}},{"key":"b"}]"""));

        var entries = await Store.GetBulkAsync<Order>("embeddings", ["a", "b"]);

        Assert.Equal(
            [new BulkStateEntry<Order>("a", true, new Order("a", 1), "3"), new BulkStateEntry<Order>("b", false, null, null)],
            entries);
        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1.0/state/embeddings/bulk", request.PathAndQuery);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("""{"keys":["a","b"],"parallelism":10}""", request.BodyText);
    }

    [Fact]
    public async Task GetBulkAsync_DocumentedValueFieldOnly_TreatsKeyAsMissing()
    {
        // The docs show "value"; daprd emits "data". A "value" alone is not a stored value.
        Sidecar.On("POST", "/v1.0/state/s/bulk", FakeResponse.Json("""[{"key":"a","value":{"id":"a","quantity":1},"etag":"3"}]"""));

        var entries = await Store.GetBulkAsync<Order>("s", ["a"]);

        Assert.False(Assert.Single(entries).Found);
    }

    [Fact]
    public async Task GetBulkAsync_ItemError_ThrowsStateStoreException()
    {
        Sidecar.On("POST", "/v1.0/state/s/bulk", FakeResponse.Json("""[{"key":"a","error":"connection reset"}]"""));

        var e = await Assert.ThrowsAsync<StateStoreException>(() => Store.GetBulkAsync<Order>("s", ["a"]));

        Assert.Contains("connection reset", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetBulkAsync_NoKeys_SendsNothing()
    {
        var entries = await Store.GetBulkAsync<Order>("s", []);

        Assert.Empty(entries);
        Assert.Empty(Sidecar.Requests);
    }

    [Fact]
    public async Task SaveAsync_PlainValue_PostsArrayWithRawJsonValue()
    {
        await Store.SaveAsync("embeddings", "u1", new Order("o1", 2));

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1.0/state/embeddings", request.PathAndQuery);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal("""[{"key":"u1","value":{"id":"o1","quantity":2}}]""", request.BodyText);
    }

    [Fact]
    public async Task SaveAsync_ETagAndTtl_SendsStringsAndFirstWrite()
    {
        await Store.SaveAsync("precomputed", "k", "v", new StateWriteOptions { ETag = "5", TimeToLive = TimeSpan.FromSeconds(90) });

        Assert.Equal(
            """[{"key":"k","value":"v","etag":"5","options":{"concurrency":"first-write"},"metadata":{"ttlInSeconds":"90"}}]""",
            Assert.Single(Sidecar.Requests).BodyText);
    }

    [Theory]
    [InlineData(1500, "2")]
    [InlineData(0, "-1")]
    public async Task SaveAsync_TtlNotWholeSecondsOrZero_RoundsUpOrNeverExpires(int milliseconds, string expected)
    {
        await Store.SaveAsync("s", "k", 1, new StateWriteOptions { TimeToLive = TimeSpan.FromMilliseconds(milliseconds) });

        Assert.Equal($$$"""[{"key":"k","value":1,"metadata":{"ttlInSeconds":"{{{expected}}}"}}]""", Assert.Single(Sidecar.Requests).BodyText);
    }

    [Fact]
    public async Task SaveAsync_FirstWriteWithoutETag_SendsFirstWrite()
    {
        await Store.SaveAsync("s", "k", 1, new StateWriteOptions { FirstWrite = true });

        Assert.Equal("""[{"key":"k","value":1,"options":{"concurrency":"first-write"}}]""", Assert.Single(Sidecar.Requests).BodyText);
    }

    [Fact]
    public async Task SaveAsync_ETagMismatch409_ThrowsStateConflictException()
    {
        Sidecar.On("POST", "/v1.0/state/s", FakeResponse.Error(409, "ERR_STATE_SAVE", "possible etag mismatch. error from state store: ..."));

        var e = await Assert.ThrowsAsync<StateConflictException>(() => Store.SaveAsync("s", "k", 1, new StateWriteOptions { ETag = "1" }));

        Assert.Equal(("s", "k"), (e.Store, e.Key));
    }

    [Fact]
    public async Task SaveAsync_InvalidETag400_ThrowsStateStoreExceptionNotConflict()
    {
        Sidecar.On("POST", "/v1.0/state/s", FakeResponse.Error(400, "ERR_STATE_SAVE", "invalid etag value: strconv.Atoi: parsing \"x\""));

        var e = await Assert.ThrowsAsync<StateStoreException>(() => Store.SaveAsync("s", "k", 1, new StateWriteOptions { ETag = "x" }));

        Assert.Contains("ERR_STATE_SAVE", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeleteAsync_WithETag_SendsIfMatchAndNoBody()
    {
        await Store.DeleteAsync("s", "k", "5");

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("DELETE", request.Method);
        Assert.Equal("/v1.0/state/s/k", request.PathAndQuery);
        Assert.Equal("5", request.Header("If-Match"));
        Assert.Empty(request.Body);
    }

    [Fact]
    public async Task DeleteAsync_WithoutETag_SendsNoIfMatch()
    {
        await Store.DeleteAsync("s", "k");

        Assert.Null(Assert.Single(Sidecar.Requests).Header("If-Match"));
    }

    [Fact]
    public async Task DeleteAsync_ETagMismatch409_ThrowsStateConflictException()
    {
        Sidecar.On("DELETE", "/v1.0/state/s/k", FakeResponse.Error(409, "ERR_STATE_DELETE", "possible etag mismatch"));

        await Assert.ThrowsAsync<StateConflictException>(() => Store.DeleteAsync("s", "k", "4"));
    }

    [Fact]
    public async Task TransactAsync_UpsertAndDelete_PostsOperations()
    {
        await Store.TransactAsync("models", [
            StateOperation.Upsert("k1", "v1"),
            StateOperation.Upsert("k2", new Order("o", 1), new StateWriteOptions { ETag = "3", TimeToLive = TimeSpan.FromSeconds(3) }),
            StateOperation.Delete("k3"),
            StateOperation.Delete("k4", "9"),
        ]);

        var request = Assert.Single(Sidecar.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/v1.0/state/models/transaction", request.PathAndQuery);
        Assert.Equal("application/json", request.ContentType);
        Assert.Equal(
            """{"operations":[""" +
            """{"operation":"upsert","request":{"key":"k1","value":"v1"}},""" +
            """{"operation":"upsert","request":{"key":"k2","value":{"id":"o","quantity":1},"etag":"3","options":{"concurrency":"first-write"},"metadata":{"ttlInSeconds":"3"}}},""" +
            """{"operation":"delete","request":{"key":"k3"}},""" +
            """{"operation":"delete","request":{"key":"k4","etag":"9","options":{"concurrency":"first-write"}}}]}""",
            request.BodyText);
    }

    [Fact]
    public async Task TransactAsync_ErrStateTransaction500_ThrowsStateTransactionException()
    {
        Sidecar.On("POST", "/v1.0/state/s/transaction", FakeResponse.Error(500, "ERR_STATE_TRANSACTION", "error while executing state transaction: possible etag mismatch"));

        var e = await Assert.ThrowsAsync<StateTransactionException>(() => Store.TransactAsync("s", [StateOperation.Delete("k", "1")]));

        Assert.Contains("ERR_STATE_TRANSACTION", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TransactAsync_UnknownStore400_ThrowsStateTransactionException()
    {
        Sidecar.On("POST", "/v1.0/state/nope/transaction", FakeResponse.Error(400, "ERR_STATE_STORE_NOT_FOUND", "state store nope is not found"));

        var e = await Assert.ThrowsAsync<StateTransactionException>(() => Store.TransactAsync("nope", [StateOperation.Delete("k")]));

        Assert.Contains("ERR_STATE_STORE_NOT_FOUND", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SaveAsync_SidecarUnreachable_ThrowsStateStoreException()
    {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        using var host = SidecarHost.Build("http://127.0.0.1:1");

        var e = await Assert.ThrowsAsync<StateStoreException>(() => host.Services.GetRequiredService<IStateStore>().SaveAsync("s", "k", 1));

        Assert.Contains("127.0.0.1:1", e.Message, StringComparison.Ordinal);
    }
}
