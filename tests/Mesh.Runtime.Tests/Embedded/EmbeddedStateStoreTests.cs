using Mesh.Runtime.Embedded;
using Mesh.Testing;

namespace Mesh.Runtime.Tests.Embedded;

public sealed class EmbeddedStateStoreTests
{
    private const string Store = "things";

    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = TestClock.Create();
    private readonly EmbeddedStateStore _state;

    public EmbeddedStateStoreTests() => _state = new EmbeddedStateStore(_clock);

    public sealed record Thing(string Name, int Count);

    [Fact]
    public async Task Get_MissingKey_ReturnsNull()
    {
        Assert.Null(await _state.GetAsync<Thing>(Store, "nope"));
    }

    [Fact]
    public async Task Save_ThenGet_ReturnsValueWithNewETagPerWrite()
    {
        await _state.SaveAsync(Store, "k", new Thing("a", 1));
        var first = await _state.GetAsync<Thing>(Store, "k");
        await _state.SaveAsync(Store, "k", new Thing("a", 2));
        var second = await _state.GetAsync<Thing>(Store, "k");

        Assert.Equal(new Thing("a", 1), first!.Value);
        Assert.Equal(new Thing("a", 2), second!.Value);
        Assert.NotEqual(first.ETag, second.ETag);
    }

    [Fact]
    public async Task Save_StaleETag_ThrowsConflictAndKeepsValue()
    {
        await _state.SaveAsync(Store, "k", new Thing("a", 1));
        var read = await _state.GetAsync<Thing>(Store, "k");
        await _state.SaveAsync(Store, "k", new Thing("b", 2), new StateWriteOptions { ETag = read!.ETag });

        var conflict = await Assert.ThrowsAsync<StateConflictException>(() =>
            _state.SaveAsync(Store, "k", new Thing("c", 3), new StateWriteOptions { ETag = read.ETag }));

        Assert.Equal("k", conflict.Key);
        Assert.Equal(new Thing("b", 2), (await _state.GetAsync<Thing>(Store, "k"))!.Value);
    }

    [Fact]
    public async Task Save_ETagOnMissingKey_ThrowsConflict()
    {
        await Assert.ThrowsAsync<StateConflictException>(() =>
            _state.SaveAsync(Store, "k", new Thing("a", 1), new StateWriteOptions { ETag = "1" }));
    }

    [Fact]
    public async Task Save_FirstWriteOnExistingKey_ThrowsConflict()
    {
        await _state.SaveAsync(Store, "k", new Thing("a", 1), new StateWriteOptions { FirstWrite = true });

        await Assert.ThrowsAsync<StateConflictException>(() =>
            _state.SaveAsync(Store, "k", new Thing("b", 2), new StateWriteOptions { FirstWrite = true }));
    }

    [Fact]
    public async Task Delete_WrongETag_ThrowsConflict_RightETagDeletes()
    {
        await _state.SaveAsync(Store, "k", new Thing("a", 1));
        var read = await _state.GetAsync<Thing>(Store, "k");

        await Assert.ThrowsAsync<StateConflictException>(() => _state.DeleteAsync(Store, "k", "999"));
        await _state.DeleteAsync(Store, "k", read!.ETag);

        Assert.Null(await _state.GetAsync<Thing>(Store, "k"));
    }

    [Fact]
    public async Task Save_WithTtl_ExpiresOnTheClock()
    {
        await _state.SaveAsync(Store, "k", new Thing("a", 1), new StateWriteOptions { TimeToLive = TimeSpan.FromSeconds(10) });

        _clock.Advance(TimeSpan.FromSeconds(9));
        Assert.NotNull(await _state.GetAsync<Thing>(Store, "k"));

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Null(await _state.GetAsync<Thing>(Store, "k"));
        Assert.Equal(0, _state.Count(Store));
    }

    [Fact]
    public async Task GetBulk_MixedKeys_ResultsInRequestOrder()
    {
        await _state.SaveAsync(Store, "a", new Thing("a", 1));
        await _state.SaveAsync(Store, "c", new Thing("c", 3));

        var results = await _state.GetBulkAsync<Thing>(Store, ["c", "b", "a"]);

        Assert.Equal(["c", "b", "a"], results.Select(r => r.Key));
        Assert.Equal([true, false, true], results.Select(r => r.Found));
        Assert.Equal(3, results[0].Value!.Count);
        Assert.Null(results[1].ETag);
    }

    [Fact]
    public async Task Transact_OneStaleETag_NothingApplied()
    {
        await _state.SaveAsync(Store, "a", new Thing("a", 1));
        await _state.SaveAsync(Store, "b", new Thing("b", 1));

        await Assert.ThrowsAsync<StateTransactionException>(() => _state.TransactAsync(Store,
        [
            StateOperation.Upsert("a", new Thing("a", 2)),
            StateOperation.Delete("b", etag: "stale"),
        ]));

        Assert.Equal(1, (await _state.GetAsync<Thing>(Store, "a"))!.Value.Count);
        Assert.NotNull(await _state.GetAsync<Thing>(Store, "b"));
    }

    [Fact]
    public async Task Transact_Valid_AppliesAllWithTtl()
    {
        await _state.SaveAsync(Store, "b", new Thing("b", 1));

        await _state.TransactAsync(Store,
        [
            StateOperation.Upsert("a", new Thing("a", 2), new StateWriteOptions { TimeToLive = TimeSpan.FromSeconds(5) }),
            StateOperation.Delete("b"),
        ]);

        Assert.Equal(2, (await _state.GetAsync<Thing>(Store, "a"))!.Value.Count);
        Assert.Null(await _state.GetAsync<Thing>(Store, "b"));
        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(await _state.GetAsync<Thing>(Store, "a"));
    }
}
