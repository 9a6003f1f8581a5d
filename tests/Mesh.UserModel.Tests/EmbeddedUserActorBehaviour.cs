using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Actors;
using Mesh.Runtime.Embedded;
using Mesh.Serving;
using Mesh.Testing;
using Mesh.UserModel.Embeddings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.UserModel.Tests;

/// <summary>
/// The behaviour suite on the embedded runtime, plus what only a host does and so only this host is tested for: idle
/// deactivation, where actor state lives, and reminders that outlive the host (under Dapr, daprd's business).
/// </summary>
public sealed class EmbeddedUserActorBehaviour : UserActorBehaviour
{
    private static readonly TimeSpan ActivityTimeToLive = new UserModelOptions().ActivityTimeToLive;

    protected override async Task<IUserActorHost> StartAsync() => await EmbeddedUserActorHost.StartAsync();

    [Fact]
    public async Task State_KeptUnderDaprsKeyInTheActivityStore()
    {
        await using var host = await EmbeddedUserActorHost.StartAsync();

        await RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow()));

        var log = await host.State.GetAsync<ActivityLog>(Components.ActivityStore, "user-model||user||u1||activity");
        Assert.Equal("e1", Assert.Single(log!.Value.Events).EventId);
    }

    [Fact]
    public async Task Idle_PastIdleTimeout_DeactivatedWithItsStateKept()
    {
        await using var host = await EmbeddedUserActorHost.StartAsync();
        var options = new EmbeddedActorOptions();
        await RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow()));

        await host.AdvanceAsync(options.IdleTimeout - options.ScanInterval);
        Assert.True(host.Runtime.IsActive(ActorTypes.User, "u1"));
        await host.AdvanceAsync(2 * options.ScanInterval);

        Assert.Equal(0, host.Runtime.ActiveActors);
        Assert.Equal(2, (await RecordAsync(host, Event("e2", "c1", host.Clock.GetUtcNow()))).EventCount);
        Assert.True(host.Runtime.IsActive(ActorTypes.User, "u1"));
    }

    [Fact]
    public async Task Restart_OverTheSameStore_ReminderResumes()
    {
        await using var host = await EmbeddedUserActorHost.StartAsync(persistent: true);
        await RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow()));

        await host.RestartAsync();
        Assert.Equal(1, host.Runtime.Reminders);
        Assert.Single((await host.ActivityAsync("u1"))!.Events);
        await host.AdvanceAsync(ActivityTimeToLive);

        Assert.Null(await host.ActivityAsync("u1"));
        Assert.Equal(0, host.Runtime.Reminders);
        Assert.Equal(1L, Stats(host).GetProperty("activityExpired").GetInt64());
    }

    [Fact]
    public async Task Restart_ReminderDueWhileDown_FiresAtStart()
    {
        await using var host = await EmbeddedUserActorHost.StartAsync(persistent: true);
        await RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow()));

        await host.RestartAsync(downFor: 2 * ActivityTimeToLive);
        await host.Runtime.WaitForIdleAsync();

        Assert.Null(await host.ActivityAsync("u1"));
        Assert.Equal(0, host.Runtime.Reminders);
        Assert.Equal(1L, Stats(host).GetProperty("activityExpired").GetInt64());
    }
}

/// <summary>user-model on the embedded runtime with a fake clock; <c>persistent</c> keeps its state in a data folder, so it can restart.</summary>
public sealed class EmbeddedUserActorHost : IUserActorHost
{
    private readonly string? _dataDirectory;
    private EmbeddedHost _host;

    private EmbeddedUserActorHost(EmbeddedHost host, string? dataDirectory, TestPublisher publisher)
    {
        _host = host;
        _dataDirectory = dataDirectory;
        Publisher = publisher;
    }

    public IActorInvoker Actors => Services.GetRequiredService<IActorInvoker>();
    public IStateStore State => _host.State;
    public FakeTimeProvider Clock => _host.Clock;
    public TestPublisher Publisher { get; }
    public ServingModel Serving => Services.GetRequiredService<ServingModel>();
    public UserModelMetrics Metrics => Services.GetRequiredService<UserModelMetrics>();
    public EmbeddedActorHost Runtime => _host.Actors;
    private IServiceProvider Services => _host.Services;

    public static async Task<EmbeddedUserActorHost> StartAsync(bool persistent = false)
    {
        var dataDirectory = persistent ? Directory.CreateTempSubdirectory("mesh-actors-").FullName : null;
        var publisher = new TestPublisher();
        return new EmbeddedUserActorHost(await StartHostAsync(dataDirectory, publisher, TestClock.Create()), dataDirectory, publisher);
    }

    public async Task<ActivityLog?> ActivityAsync(string userId) =>
        (await State.GetAsync<ActivityLog>(Components.ActivityStore, Runtime.StateKey(ActorTypes.User, userId, UserActor.ActivityKey)))?.Value;

    public Task DeactivateAsync(string userId) => Runtime.DeactivateAsync(ActorTypes.User, userId);

    public async Task AdvanceAsync(TimeSpan by)
    {
        Clock.Advance(by);
        await Runtime.WaitForIdleAsync();
    }

    /// <summary>Stops the host, lets <paramref name="downFor"/> pass, and starts a new one over the same data folder and clock.</summary>
    public async Task RestartAsync(TimeSpan downFor = default)
    {
        await _host.DisposeAsync();
        Clock.Advance(downFor);
        _host = await StartHostAsync(_dataDirectory, Publisher, Clock);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.DisposeAsync();
        if (_dataDirectory is not null)
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    private static Task<EmbeddedHost> StartHostAsync(string? dataDirectory, TestPublisher publisher, FakeTimeProvider clock) => EmbeddedHost.StartAsync(
        b =>
        {
            b.AddUserModel();
            b.Services.AddSingleton<IEventPublisher>(publisher);
        },
        o =>
        {
            o.DataDirectory = dataDirectory;
        },
        clock);
}
