using Mesh.Runtime.Tests.Embedded;

namespace Mesh.Runtime.Tests.Dapr;

/// <summary><see cref="IStateStore"/> through DaprClient, against the fake sidecar's gRPC API: what the SDK sends and how errors map.</summary>
public sealed class DaprStateStoreTests : IAsyncLifetime
{
    private const string Store = "things";
    private DaprTestApp _app = null!;

    private IStateStore State => _app.Get<IStateStore>();

    public async Task InitializeAsync() => _app = await DaprTestApp.StartAsync();

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Save_WithTtl_SendsStoreKeyJsonAndTtlInSecondsMetadata()
    {
        await State.SaveAsync(Store, "k1", new EchoRequest("hi", TallyKind.BigStep), new StateWriteOptions { TimeToLive = TimeSpan.FromSeconds(90.5) });

        var save = Assert.Single(_app.Sidecar.CallsTo("SaveState"));
        Assert.Equal((Store, "k1", null, null), (save.Target, save.Key, save.ETag, save.Concurrency));
        Assert.Equal(new Dictionary<string, string> { ["ttlInSeconds"] = "91" }, save.Metadata);
        Assert.Equal("""{"text":"hi","kind":"bigStep"}""", save.BodyText);
    }

    [Fact]
    public async Task Get_Saved_ReturnsValueAndETag_MissingKeyIsNull()
    {
        var etag = _app.Sidecar.SetState(Store, "k1", """{"text":"hi","kind":"plain"}""");

        var entry = await State.GetAsync<EchoRequest>(Store, "k1");
        var missing = await State.GetAsync<EchoRequest>(Store, "nope");

        Assert.Equal(new StateEntry<EchoRequest>(new EchoRequest("hi", TallyKind.Plain), etag), entry);
        Assert.Null(missing);
        Assert.Equal([(Store, "k1"), (Store, "nope")], _app.Sidecar.CallsTo("GetState").Select(c => (c.Target, c.Key)));
    }

    [Fact]
    public async Task Save_WithCurrentETag_FirstWriteWins_StaleETagConflicts()
    {
        var etag = _app.Sidecar.SetState(Store, "k1", """{"text":"a","kind":"plain"}""");

        await State.SaveAsync(Store, "k1", new EchoRequest("b", TallyKind.Plain), new StateWriteOptions { ETag = etag });
        var stale = await Assert.ThrowsAsync<StateConflictException>(() =>
            State.SaveAsync(Store, "k1", new EchoRequest("c", TallyKind.Plain), new StateWriteOptions { ETag = etag }));

        Assert.Equal((Store, "k1"), (stale.Store, stale.Key));
        Assert.All(_app.Sidecar.CallsTo("SaveState"), c => Assert.Equal((etag, "ConcurrencyFirstWrite"), (c.ETag, c.Concurrency)));
        Assert.Equal("""{"text":"b","kind":"plain"}""", _app.Sidecar.StateOf(Store, "k1"));
    }

    [Fact]
    public async Task Save_FirstWriteWithoutETagOnExistingKey_Conflicts()
    {
        _app.Sidecar.SetState(Store, "k1", "{}");

        await Assert.ThrowsAsync<StateConflictException>(() => State.SaveAsync(Store, "k1", new Ping(1), new StateWriteOptions { FirstWrite = true }));
    }

    [Fact]
    public async Task Delete_StaleETag_Conflicts_CurrentETagDeletes()
    {
        var etag = _app.Sidecar.SetState(Store, "k1", "{}");

        await Assert.ThrowsAsync<StateConflictException>(() => State.DeleteAsync(Store, "k1", etag: "999"));
        await State.DeleteAsync(Store, "k1", etag);

        Assert.Null(_app.Sidecar.StateOf(Store, "k1"));
        Assert.Equal(["999", etag], _app.Sidecar.CallsTo("DeleteState").Select(c => c.ETag));
    }

    [Fact]
    public async Task GetBulk_FoundAndMissing_InRequestOrder()
    {
        var etag = _app.Sidecar.SetState(Store, "b", """{"n":2}""");

        var entries = await State.GetBulkAsync<Ping>(Store, ["a", "b"]);

        Assert.Equal([new BulkStateEntry<Ping>("a", false, null, null), new BulkStateEntry<Ping>("b", true, new Ping(2), etag)], entries);
        Assert.Equal("a,b", Assert.Single(_app.Sidecar.CallsTo("GetBulkState")).Key);
    }

    [Fact]
    public async Task Transact_UpsertAndDelete_OneRequestWithTtlPerOperation()
    {
        _app.Sidecar.SetState(Store, "gone", "{}");

        await State.TransactAsync(Store, [
            StateOperation.Upsert("k1", new Ping(1), new StateWriteOptions { TimeToLive = TimeSpan.FromMinutes(2) }),
            StateOperation.Delete("gone"),
        ]);

        var ops = _app.Sidecar.CallsTo("ExecuteStateTransaction");
        Assert.Equal([("upsert", "k1", "120"), ("delete", "gone", null)], ops.Select(o => (o.Operation, o.Key, o.Metadata?.GetValueOrDefault("ttlInSeconds"))));
        Assert.Equal("""{"n":1}""", _app.Sidecar.StateOf(Store, "k1"));
        Assert.Null(_app.Sidecar.StateOf(Store, "gone"));
    }

    [Fact]
    public async Task Transact_StaleETag_TransactionExceptionAndNothingWritten()
    {
        _app.Sidecar.SetState(Store, "k1", "{}");

        await Assert.ThrowsAsync<StateTransactionException>(() => State.TransactAsync(Store, [
            StateOperation.Upsert("k2", new Ping(2)),
            StateOperation.Delete("k1", etag: "999"),
        ]));

        Assert.Null(_app.Sidecar.StateOf(Store, "k2"));
        Assert.Equal("{}", _app.Sidecar.StateOf(Store, "k1"));
    }

    [Fact]
    public async Task Get_SidecarFails_StateStoreException()
    {
        _app.Sidecar.Fail("GetState", Store);

        var e = await Assert.ThrowsAsync<StateStoreException>(() => State.GetAsync<Ping>(Store, "k1"));

        Assert.IsNotType<StateConflictException>(e);
        Assert.Contains(Store, e.Message, StringComparison.Ordinal);
    }
}
