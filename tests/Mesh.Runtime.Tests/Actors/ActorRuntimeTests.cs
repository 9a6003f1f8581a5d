using System.Text.Json;
using Mesh.Runtime.Actors;

namespace Mesh.Runtime.Tests.Actors;

/// <summary>
/// The actor runtime's behaviour on the embedded runtime, on a fake clock. Idle timeout 60 s, scans every 10 s. (Under
/// Dapr the SDK's actor runtime hosts Dapr.Actors actors; see Dapr/DaprActorTests.)
/// </summary>
public abstract class ActorRuntimeTests
{
    private const string Counter = CounterActor.Type;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    protected abstract Task<IActorRuntimeFixture> StartAsync();

    [Fact]
    public async Task Invoke_SameIdConcurrently_TurnsNeverOverlap()
    {
        await using var f = await StartAsync();
        var held = f.Actors.InvokeAsync<string, bool>(Counter, "a", "hold", "");
        await f.Journal.WhenEntered("a").WaitAsync(Patience);

        var queued = Enumerable.Range(0, 5).Select(_ => f.Actors.InvokeAsync<long, long>(Counter, "a", "add", 1)).ToList();
        await f.WaitForQueuedAsync("a", "add", 5);
        Assert.Equal(1, f.Journal.MaxInFlight("a"));
        f.Journal.Release("a");

        Assert.True(await held);
        Assert.Equal([1L, 2, 3, 4, 5], (await Task.WhenAll(queued)).Order());
        Assert.Equal(1, f.Journal.MaxInFlight("a"));
    }

    [Fact]
    public async Task Invoke_DifferentIds_RunInParallel()
    {
        await using var f = await StartAsync();

        var a = f.Actors.InvokeAsync<string, bool>(Counter, "a", "hold", "");
        var b = f.Actors.InvokeAsync<string, bool>(Counter, "b", "hold", "");

        // Both turns are inside at once; with one turn at a time across ids this would never complete.
        await Task.WhenAll(f.Journal.WhenEntered("a"), f.Journal.WhenEntered("b")).WaitAsync(Patience);
        f.Journal.Release("a");
        f.Journal.Release("b");
        Assert.True(await a);
        Assert.True(await b);
    }

    [Fact]
    public async Task State_SavedAtEndOfTurn_VisibleAfterReactivation()
    {
        await using var f = await StartAsync();

        Assert.Equal(2, await f.Actors.InvokeAsync<long, long>(Counter, "a", "add", 2));
        Assert.Equal("2", await f.StoredStateAsync("a", "count"));
        Assert.Equal(5, await f.Actors.InvokeAsync<long, long>(Counter, "a", "add", 3));
        Assert.Equal("5", await f.StoredStateAsync("a", "count"));

        await AdvanceAsync(f, ActorTestSettings.IdleTimeout);
        Assert.Equal(["activate", "deactivate"], f.Journal.Of("a"));

        var stats = await f.Actors.InvokeAsync<string, CounterStats>(Counter, "a", "stats", "");
        Assert.Equal(new CounterStats(5, 0, 1, false), stats);
        Assert.Equal(2, f.Journal.Count("a", "activate"));
    }

    [Fact]
    public async Task Turn_Throws_StateChangesDropped()
    {
        await using var f = await StartAsync();
        await f.Actors.InvokeAsync<long, long>(Counter, "a", "add", 1);

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => f.Actors.InvokeAsync<long, long>(Counter, "a", "fail", 100));

        Assert.Equal(500, e.StatusCode);
        Assert.DoesNotContain("on purpose", e.Message, StringComparison.Ordinal);
        Assert.Equal("1", await f.StoredStateAsync("a", "count"));
        Assert.Equal(1, (await f.Actors.InvokeAsync<string, CounterStats>(Counter, "a", "stats", "")).Count);
    }

    [Fact]
    public async Task IdleActor_DeactivatedOnTheClock()
    {
        await using var f = await StartAsync();
        await f.Actors.InvokeAsync<long, long>(Counter, "a", "add", 1);

        await AdvanceAsync(f, ActorTestSettings.IdleTimeout - ActorTestSettings.ScanInterval);
        Assert.Equal(0, f.Journal.Count("a", "deactivate"));

        await AdvanceAsync(f, ActorTestSettings.ScanInterval);
        Assert.Equal(1, f.Journal.Count("a", "deactivate"));

        // The deactivation turn's own state change was saved.
        Assert.Equal("1", await f.StoredStateAsync("a", "deactivations"));
        await AdvanceAsync(f, ActorTestSettings.IdleTimeout * 3);
        Assert.Equal(1, f.Journal.Count("a", "deactivate"));
    }

    [Fact]
    public async Task BusyActor_NotDeactivatedWhileItsTurnRuns()
    {
        await using var f = await StartAsync();
        var held = f.Actors.InvokeAsync<string, bool>(Counter, "a", "hold", "");
        await f.Journal.WhenEntered("a").WaitAsync(Patience);

        await AdvanceAsync(f, ActorTestSettings.IdleTimeout * 2);
        Assert.Equal(0, f.Journal.Count("a", "deactivate"));

        f.Journal.Release("a");
        await held;
        await AdvanceAsync(f, ActorTestSettings.IdleTimeout);
        Assert.Equal(1, f.Journal.Count("a", "deactivate"));
    }

    [Fact]
    public async Task Reminder_DueAndPeriod_FiresOnTheClock()
    {
        await using var f = await StartAsync();
        var data = JsonDocument.Parse("""{"n":1}""").RootElement;
        await f.Actors.InvokeAsync<ReminderRequest, bool>(Counter, "a", "remind", new ReminderRequest("tick", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5), data));

        await AdvanceAsync(f, TimeSpan.FromSeconds(9));
        Assert.Empty(f.Journal.Reminders("a"));

        await AdvanceAsync(f, TimeSpan.FromSeconds(1));
        Assert.Equal(["""reminder tick {"n":1} at +10s"""], f.Journal.Reminders("a"));

        await AdvanceAsync(f, TimeSpan.FromSeconds(10));
        Assert.Equal(3, f.Journal.Reminders("a").Count);
        Assert.Equal("3", await f.StoredStateAsync("a", "reminded"));
        Assert.Equal(1, f.ReminderCount);
    }

    [Fact]
    public async Task Reminder_WithoutPeriod_FiresOnceThenIsGone()
    {
        await using var f = await StartAsync();
        await f.Actors.InvokeAsync<ReminderRequest, bool>(Counter, "a", "remind", new ReminderRequest("once", TimeSpan.FromSeconds(10)));

        await AdvanceAsync(f, TimeSpan.FromSeconds(10));
        Assert.Equal(["reminder once - at +10s"], f.Journal.Reminders("a"));

        await AdvanceAsync(f, TimeSpan.FromSeconds(50));
        Assert.Single(f.Journal.Reminders("a"));
        Assert.Equal(0, f.ReminderCount);
    }

    [Fact]
    public async Task Reminder_Registered_AgainReplacesTheSchedule()
    {
        await using var f = await StartAsync();
        await f.Actors.InvokeAsync<ReminderRequest, bool>(Counter, "a", "remind", new ReminderRequest("r", TimeSpan.FromSeconds(10)));
        await f.Actors.InvokeAsync<ReminderRequest, bool>(Counter, "a", "remind", new ReminderRequest("r", TimeSpan.FromSeconds(20)));

        await AdvanceAsync(f, TimeSpan.FromSeconds(19));
        Assert.Empty(f.Journal.Reminders("a"));

        await AdvanceAsync(f, TimeSpan.FromSeconds(1));
        await AdvanceAsync(f, TimeSpan.FromSeconds(30));
        Assert.Equal(["reminder r - at +20s"], f.Journal.Reminders("a"));
    }

    [Fact]
    public async Task Reminder_Unregistered_NeverFiresAgain()
    {
        await using var f = await StartAsync();
        await f.Actors.InvokeAsync<ReminderRequest, bool>(Counter, "a", "remind", new ReminderRequest("tick", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10)));
        await AdvanceAsync(f, TimeSpan.FromSeconds(10));
        Assert.Single(f.Journal.Reminders("a"));

        await f.Actors.InvokeAsync<string, bool>(Counter, "a", "forget", "tick");
        await AdvanceAsync(f, TimeSpan.FromSeconds(30));

        Assert.Single(f.Journal.Reminders("a"));
        Assert.Equal(0, f.ReminderCount);
    }

    [Fact]
    public async Task Reminder_OnInactiveActor_ActivatesIt()
    {
        await using var f = await StartAsync();
        await f.Actors.InvokeAsync<ReminderRequest, bool>(Counter, "a", "remind", new ReminderRequest("late", TimeSpan.FromSeconds(100)));

        await AdvanceAsync(f, ActorTestSettings.IdleTimeout);
        Assert.Equal(["activate", "deactivate"], f.Journal.Of("a"));

        await AdvanceAsync(f, TimeSpan.FromSeconds(40));
        Assert.Equal(["activate", "deactivate", "activate", "reminder late - at +100s"], f.Journal.Of("a"));
        Assert.Equal("1", await f.StoredStateAsync("a", "reminded"));
    }

    [Fact]
    public async Task State_WithTimeToLive_ExpiresOnTheClock()
    {
        await using var f = await StartAsync();
        await f.Actors.InvokeAsync<SetRequest, bool>(Counter, "a", "set", new SetRequest("ttl", 7, TimeSpan.FromSeconds(30)));
        Assert.Equal("7", await f.StoredStateAsync("a", "ttl"));

        // Read from a fresh activation: an active actor keeps what it read in its cache, as Dapr's SDK does.
        await AdvanceAsync(f, ActorTestSettings.IdleTimeout);

        Assert.Null(await f.StoredStateAsync("a", "ttl"));
        Assert.False((await f.Actors.InvokeAsync<string, CounterStats>(Counter, "a", "stats", "")).HasTtlKey);
    }

    [Fact]
    public async Task Invoke_UnknownMethod_Throws()
    {
        await using var f = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => f.Actors.InvokeAsync<long, long>(Counter, "a", "nope", 1));

        Assert.Equal(f.UnknownMethodStatus, e.StatusCode);
        Assert.Empty(f.Journal.Of("a"));
    }

    [Fact]
    public async Task Invoke_MalformedRequest_Returns400()
    {
        await using var f = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => f.Actors.InvokeAsync<string, long>(Counter, "a", "add", "not a number"));

        Assert.Equal(400, e.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData("a||b")]
    public async Task Invoke_InvalidActorId_Returns400(string id)
    {
        await using var f = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => f.Actors.InvokeAsync<long, long>(Counter, id, "add", 1));

        Assert.Equal(400, e.StatusCode);
    }

    /// <summary>Advances the clock and waits for whatever it set off (reminders, scans, deactivations).</summary>
    private static async Task AdvanceAsync(IActorRuntimeFixture f, TimeSpan by)
    {
        f.Clock.Advance(by);
        await f.WaitForIdleAsync().WaitAsync(Patience);
    }
}

public sealed class EmbeddedActorRuntimeSuite : ActorRuntimeTests
{
    protected override async Task<IActorRuntimeFixture> StartAsync() => await EmbeddedActorFixture.StartAsync();
}
