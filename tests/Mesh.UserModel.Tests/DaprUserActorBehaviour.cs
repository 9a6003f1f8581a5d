using System.Text.Json;
using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Actors;
using Mesh.Serving;
using Mesh.Testing;
using Mesh.UserModel.Embeddings;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.UserModel.Tests;

/// <summary>
/// The behaviour suite under Dapr: the real user-model app, whose SDK actor runtime hosts <see cref="UserActor"/>,
/// against a fake daprd that keeps the actor's state, turns and reminders. Callers reach the actor as every caller in
/// the mesh does, through <see cref="IActorInvoker"/> (the SDK's <c>ActorProxy</c>) and the sidecar.
/// </summary>
public sealed class DaprUserActorBehaviour : UserActorBehaviour
{
    // daprd answers an actor's own refusal (400) with its 500 ERR_ACTOR_INVOKE_METHOD, so the caller sees a failure to
    // retry; the subscription's resiliency policy then dead-letters the event (docs/dapr.md).
    protected override int RefusedBodyStatus => 500;

    protected override async Task<IUserActorHost> StartAsync() => await DaprUserActorHost.StartAsync();

    [Fact]
    public async Task Record_NewUser_RegistersTheExpireReminderWithTheSidecarOnce()
    {
        await using var host = await DaprUserActorHost.StartAsync();

        await RecordAsync(host, Event("e1", "c1", host.Clock.GetUtcNow()));
        await RecordAsync(host, Event("e2", "c1", host.Clock.GetUtcNow()));

        var registration = Assert.Single(host.Sidecar.CallsTo("Reminder"));
        Assert.Equal(($"{ActorTypes.User}/u1", UserActor.ExpireReminder), (registration.Target, registration.Key));
        Assert.Equal("168h0m0s0ms", registration.Json.GetProperty("period").GetString());
        Assert.Equal([UserActor.ExpireReminder], host.Sidecar.RemindersOf(ActorTypes.User, "u1"));
    }
}

/// <summary>user-model in Dapr mode on a fake clock, shared by the app and its fake sidecar.</summary>
public sealed class DaprUserActorHost : IUserActorHost
{
    private readonly WebApplicationFactory<UserModelOptions> _app;

    private DaprUserActorHost(FakeDaprSidecar sidecar, WebApplicationFactory<UserModelOptions> app, FakeTimeProvider clock, TestPublisher publisher)
    {
        Sidecar = sidecar;
        _app = app;
        Clock = clock;
        Publisher = publisher;
    }

    public FakeDaprSidecar Sidecar { get; }
    public IActorInvoker Actors => Services.GetRequiredService<IActorInvoker>();
    public IStateStore State => Services.GetRequiredService<IStateStore>();
    public FakeTimeProvider Clock { get; }
    public TestPublisher Publisher { get; }
    public ServingModel Serving => Services.GetRequiredService<ServingModel>();
    public UserModelMetrics Metrics => Services.GetRequiredService<UserModelMetrics>();
    private IServiceProvider Services => _app.Services;

    public static async Task<DaprUserActorHost> StartAsync()
    {
        var clock = TestClock.Create();
        var publisher = new TestPublisher();
        var sidecar = await FakeDaprSidecar.StartAsync(clock: clock);
        var app = new WebApplicationFactory<UserModelOptions>().WithWebHostBuilder(b =>
        {
            sidecar.Configure(b);
            b.ConfigureTestServices(s =>
            {
                s.AddSingleton<TimeProvider>(clock);
                s.AddSingleton<IEventPublisher>(publisher);
            });
        });
        await sidecar.ConnectAppAsync(AppIds.UserModel, app.CreateClient());
        return new DaprUserActorHost(sidecar, app, clock, publisher);
    }

    public Task<ActivityLog?> ActivityAsync(string userId) => Task.FromResult(
        Sidecar.ActorStateOf(ActorTypes.User, userId, UserActor.ActivityKey) is { } json ? JsonSerializer.Deserialize<ActivityLog>(json, MeshJson.Options) : null);

    public Task DeactivateAsync(string userId) => Sidecar.DeactivateActorAsync(ActorTypes.User, userId);

    public async Task AdvanceAsync(TimeSpan by)
    {
        Clock.Advance(by);
        await Sidecar.FireDueRemindersAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        await Sidecar.DisposeAsync();
    }
}
