using Mesh.Contracts;
using Mesh.Runtime.Actors;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Runtime.Tests.Embedded;

/// <summary>
/// The embedded actor host with a probe actor: dispatch by name and its status codes, the SDK's lifecycle and state
/// manager contract, reminders, and what it refuses. The user actor's behaviour suite covers turns and idleness.
/// </summary>
public sealed class EmbeddedActorHostTests
{
    private static Task<EmbeddedHost> StartAsync(string? dataDirectory = null, FakeTimeProvider? clock = null) => EmbeddedHost.StartAsync(
        b => b.Services.AddSingleton<ProbeJournal>().AddActorType<ProbeActor>(ProbeActor.AppId, ProbeActor.Type),
        o => o.DataDirectory = dataDirectory,
        clock);

    private static Task<TResponse> InvokeAsync<TRequest, TResponse>(EmbeddedHost host, string method, TRequest request, string id = "a") =>
        host.Services.GetRequiredService<IActorInvoker>().InvokeAsync<TRequest, TResponse>(ProbeActor.Type, id, method, request);

    private static ProbeJournal Journal(EmbeddedHost host) => host.Services.GetRequiredService<ProbeJournal>();

    [Fact]
    public async Task Invoke_ByInterfaceMethodName_RunsTheSdkHooksAndSavesTheTurn()
    {
        await using var host = await StartAsync();

        Assert.Equal(2, await InvokeAsync<long, long>(host, nameof(IProbeActor.AddAsync), 2));
        Assert.Equal(5, await InvokeAsync<long, long>(host, nameof(IProbeActor.AddAsync), 3));

        Assert.Equal(["activate", "pre AddAsync ActorInterfaceMethod", "add 2", "pre AddAsync ActorInterfaceMethod", "add 3"], Journal(host).Of("a"));
        Assert.Equal(5, (await host.State.GetAsync<long>(Components.ActivityStore, "probe-app||probe||a||total"))!.Value);
    }

    [Theory]
    [InlineData("nobody", nameof(IProbeActor.TotalAsync))]
    [InlineData(ProbeActor.Type, "total")]
    public async Task Invoke_UnknownTypeOrMethod_404(string actorType, string method)
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() =>
            host.Services.GetRequiredService<IActorInvoker>().InvokeAsync<string, long>(actorType, "a", method, ""));

        Assert.Equal(404, e.StatusCode);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("a||b")]
    public async Task Invoke_InvalidActorId_400(string id)
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => InvokeAsync<long, long>(host, nameof(IProbeActor.AddAsync), 1, id));

        Assert.Equal(400, e.StatusCode);
        Assert.Equal(0, host.Actors.ActiveActors);
    }

    [Fact]
    public async Task Invoke_BodyNotTheArgumentType_400WithoutActivating()
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => InvokeAsync<string, long>(host, nameof(IProbeActor.AddAsync), "ten"));

        Assert.Equal(400, e.StatusCode);
        Assert.Empty(Journal(host).Of("a"));
    }

    [Fact]
    public async Task Invoke_NullForANonNullableArgument_400WithoutActivating()
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => InvokeAsync<ReminderRequest?, object>(host, nameof(IProbeActor.RemindAsync), null));

        Assert.Equal(400, e.StatusCode);
        Assert.Empty(Journal(host).Of("a"));
    }

    [Fact]
    public async Task Invoke_ActorRefuses_400()
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => InvokeAsync<string, object>(host, nameof(IProbeActor.RefuseAsync), "no"));

        Assert.Equal((400, "no"), (e.StatusCode, e.InnerException!.Message));
    }

    [Fact]
    public async Task Invoke_ActorThrows_500AndTheTurnsStateIsDropped()
    {
        await using var host = await StartAsync();
        await InvokeAsync<long, long>(host, nameof(IProbeActor.AddAsync), 1);

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => InvokeAsync<long, object>(host, nameof(IProbeActor.FailAfterAddingAsync), 10));

        Assert.Equal(500, e.StatusCode);
        Assert.IsType<InvalidOperationException>(e.InnerException);
        Assert.Equal("failed FailAfterAddingAsync", Journal(host).Of("a")[^1]);
        Assert.Equal(1, await InvokeAsync<object?, long>(host, nameof(IProbeActor.TotalAsync), null));
        Assert.Equal(1, (await host.State.GetAsync<long>(Components.ActivityStore, "probe-app||probe||a||total"))!.Value);
    }

    [Fact]
    public async Task StateManager_FollowsTheSdkContract()
    {
        await using var host = await StartAsync();

        var seen = await InvokeAsync<object?, string[]>(host, nameof(IProbeActor.StateOperationsAsync), null);

        Assert.Equal(
            [
                "tryAdd new True", "tryAdd again False", "get 1", "getOrAdd 5", "tryRemove True", "contains removed False",
                "tryRemove missing False", "get missing throws", "unload modified throws", "reloaded 3",
            ],
            seen);
        Assert.Null(await host.State.GetAsync<int>(Components.ActivityStore, "probe-app||probe||a||b"));
        Assert.Equal(1, (await host.State.GetAsync<int>(Components.ActivityStore, "probe-app||probe||a||a"))!.Value);
    }

    [Fact]
    public async Task StateManager_Ttl_ExpiresInTheCacheAndInTheStore()
    {
        await using var host = await StartAsync();
        await InvokeAsync<TimeSpan, object>(host, nameof(IProbeActor.SetExpiringAsync), TimeSpan.FromSeconds(30));

        host.Clock.Advance(TimeSpan.FromSeconds(29));
        Assert.True(await InvokeAsync<object?, bool>(host, nameof(IProbeActor.HasExpiringAsync), null));
        host.Clock.Advance(TimeSpan.FromSeconds(1));

        Assert.False(await InvokeAsync<object?, bool>(host, nameof(IProbeActor.HasExpiringAsync), null));
        Assert.Null(await host.State.GetAsync<string>(Components.ActivityStore, "probe-app||probe||a||expiring"));
    }

    [Fact]
    public async Task Reminder_Once_FiresWithItsDataAndIsForgotten()
    {
        await using var host = await StartAsync();
        await InvokeAsync<ReminderRequest, object>(host, nameof(IProbeActor.RemindAsync), new ReminderRequest("r", TimeSpan.FromSeconds(10), Data: "hi"));
        Assert.True(await InvokeAsync<string, bool>(host, nameof(IProbeActor.HasReminderAsync), "r"));

        host.Clock.Advance(TimeSpan.FromSeconds(10));
        await host.Actors.WaitForIdleAsync();
        host.Clock.Advance(TimeSpan.FromMinutes(10));
        await host.Actors.WaitForIdleAsync();

        Assert.Equal(["reminder r hi 00:00:10 -00:00:00.0010000"], Journal(host).Of("a").Where(e => e.StartsWith("reminder", StringComparison.Ordinal)));
        Assert.Single(Journal(host).Of("a"), e => e.StartsWith("pre ReceiveReminderAsync", StringComparison.Ordinal));
        Assert.Equal(0, host.Actors.Reminders);
        Assert.Empty(host.Services.GetRequiredService<EmbeddedStateStore>().Scan(Components.ActivityStore, "actor-reminders||"));
        Assert.False(await InvokeAsync<string, bool>(host, nameof(IProbeActor.HasReminderAsync), "r"));
    }

    [Fact]
    public async Task Reminder_Repetitions_StopsAfterThem()
    {
        await using var host = await StartAsync();
        await InvokeAsync<ReminderRequest, object>(host, nameof(IProbeActor.RemindAsync), new ReminderRequest("r", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), Repetitions: 2));

        host.Clock.Advance(TimeSpan.FromMinutes(1));
        await host.Actors.WaitForIdleAsync();

        Assert.Equal(2, Journal(host).Of("a").Count(e => e.StartsWith("reminder r", StringComparison.Ordinal)));
        Assert.Equal(0, host.Actors.Reminders);
    }

    [Fact]
    public async Task Reminder_Periodic_OneMissedWhileDownFiresOnceAtStart()
    {
        var dir = Directory.CreateTempSubdirectory("mesh-actors-").FullName;
        try
        {
            var clock = TestClock.Create();
            await using (var first = await StartAsync(dir, clock))
            {
                await InvokeAsync<ReminderRequest, object>(first, nameof(IProbeActor.RemindAsync), new ReminderRequest("r", TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10)));
                clock.Advance(TimeSpan.FromSeconds(10));
                await first.Actors.WaitForIdleAsync();
                Assert.Single(Journal(first).Of("a"), e => e.StartsWith("reminder", StringComparison.Ordinal));
            }

            // Down for ten periods: the reminder fires once at start, then keeps its period from there.
            clock.Advance(TimeSpan.FromSeconds(100));
            await using var second = await StartAsync(dir, clock);
            await second.Actors.WaitForIdleAsync();
            Assert.Single(Journal(second).Of("a"), e => e.StartsWith("reminder", StringComparison.Ordinal));
            clock.Advance(TimeSpan.FromSeconds(9));
            await second.Actors.WaitForIdleAsync();
            Assert.Single(Journal(second).Of("a"), e => e.StartsWith("reminder", StringComparison.Ordinal));
            clock.Advance(TimeSpan.FromSeconds(1));
            await second.Actors.WaitForIdleAsync();
            Assert.Equal(2, Journal(second).Of("a").Count(e => e.StartsWith("reminder", StringComparison.Ordinal)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Timer_NotHostedHere_500()
    {
        await using var host = await StartAsync();

        var e = await Assert.ThrowsAsync<ActorInvocationException>(() => InvokeAsync<object?, object>(host, nameof(IProbeActor.StartTimerAsync), null));

        Assert.Equal(500, e.StatusCode);
        Assert.IsType<NotSupportedException>(e.InnerException);
    }

    [Fact]
    public async Task Stop_DeactivatesActiveActors()
    {
        var host = await StartAsync();
        await InvokeAsync<long, long>(host, nameof(IProbeActor.AddAsync), 1, id: "a");
        await InvokeAsync<long, long>(host, nameof(IProbeActor.AddAsync), 1, id: "b");
        var journal = Journal(host);

        await host.DisposeAsync();

        Assert.Equal("deactivate", journal.Of("a")[^1]);
        Assert.Equal("deactivate", journal.Of("b")[^1]);
    }

    [Fact]
    public async Task Start_ActorClassWithoutTheStateManagerSeam_Refused()
    {
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            EmbeddedHost.StartAsync(b => b.Services.AddActorType<NoSeamActor>(ProbeActor.AppId, "no-seam")));

        Assert.Contains("IActorStateManager", e.Message, StringComparison.Ordinal);
    }
}
