using Mesh.Runtime.Dapr;
using Mesh.Runtime.Actors;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Runtime.Tests.Actors;

/// <summary>The <see cref="CounterActor"/> hosted on one runtime, with what the shared tests need to drive and observe it.</summary>
public interface IActorRuntimeFixture : IAsyncDisposable
{
    FakeTimeProvider Clock { get; }
    IActorInvoker Actors { get; }
    ActorJournal Journal { get; }

    /// <summary>
    /// The status a caller sees for an unknown method: the embedded runtime says 404; through Dapr the app's 404 comes
    /// back as daprd's 500 ERR_ACTOR_INVOKE_METHOD, which folds every non-200 (§2.7).
    /// </summary>
    int UnknownMethodStatus { get; }

    /// <summary>Reminders scheduled now.</summary>
    int ReminderCount { get; }

    /// <summary>Waits until reminders and idle scans started by the clock have finished.</summary>
    Task WaitForIdleAsync();

    /// <summary>Waits until <paramref name="count"/> calls of <paramref name="method"/> on <paramref name="actorId"/> are queued behind its turn.</summary>
    Task WaitForQueuedAsync(string actorId, string method, int count);

    /// <summary>The JSON the actor state store holds for a key, or null.</summary>
    Task<string?> StoredStateAsync(string actorId, string key);
}

/// <summary>Settings the shared tests rely on: deactivation after 60 s idle, scans every 10 s.</summary>
internal static class ActorTestSettings
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan ScanInterval = TimeSpan.FromSeconds(10);

    public static void Apply(ActorRuntimeOptions o)
    {
        o.IdleTimeout = IdleTimeout;
        o.ScanInterval = ScanInterval;
    }
}

public sealed class EmbeddedActorFixture : IActorRuntimeFixture
{
    private readonly EmbeddedHost _host;

    private EmbeddedActorFixture(EmbeddedHost host)
    {
        _host = host;
    }

    public FakeTimeProvider Clock => _host.Clock;
    public IActorInvoker Actors => _host.Services.GetRequiredService<IActorInvoker>();
    public ActorJournal Journal => _host.Services.GetRequiredService<ActorJournal>();
    public EmbeddedActorRuntime Runtime => _host.Actors;
    public int UnknownMethodStatus => 404;
    public int ReminderCount => Runtime.Reminders;

    public static async Task<EmbeddedActorFixture> StartAsync(Action<EmbeddedRuntimeOptions>? embedded = null) =>
        new(await EmbeddedHost.StartAsync(
            services =>
            {
                CounterActor.Register(services);
                services.Configure<ActorRuntimeOptions>(ActorTestSettings.Apply);
            },
            embedded));

    public Task WaitForIdleAsync() => Runtime.WaitForIdleAsync();

    // An embedded call runs synchronously up to its wait for the turn, so a started call is already queued.
    public Task WaitForQueuedAsync(string actorId, string method, int count) => Task.CompletedTask;

    public async Task<string?> StoredStateAsync(string actorId, string key)
    {
        var entry = await _host.State.GetAsync<System.Text.Json.JsonElement>(Contracts.Components.ActivityStore, Runtime.StateKey(CounterActor.Type, actorId, key));
        return entry?.Value.GetRawText();
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}

/// <summary>The app on the Dapr runtime (TestServer) with a <see cref="FakeSidecar"/> playing daprd's actor runtime.</summary>
public sealed class DaprActorFixture : IActorRuntimeFixture
{
    private DaprActorFixture(FakeSidecar sidecar, WebApplication app, FakeTimeProvider clock)
    {
        Sidecar = sidecar;
        App = app;
        Clock = clock;
    }

    public FakeSidecar Sidecar { get; }
    public FakeActorHost Daprd => Sidecar.EnableActors(Clock);
    public WebApplication App { get; }
    public FakeTimeProvider Clock { get; }
    public IActorInvoker Actors => App.Services.GetRequiredService<IActorInvoker>();
    public ActorJournal Journal => App.Services.GetRequiredService<ActorJournal>();
    public int UnknownMethodStatus => 500;
    public int ReminderCount => Daprd.ReminderCount;

    public static async Task<DaprActorFixture> StartAsync(string? appApiToken = null)
    {
        var clock = TestClock.Create();
        var sidecar = await FakeSidecar.StartAsync();
        var daprd = sidecar.EnableActors(clock);

        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["DaprSidecar:HttpEndpoint"] = sidecar.Url.ToString(),
            ["DaprSidecar:WaitForSidecar"] = "false",
            ["DaprSidecar:AppApiToken"] = appApiToken ?? string.Empty,
        });
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.AddDaprRuntime();
        CounterActor.Register(builder.Services);
        builder.Services.Configure<ActorRuntimeOptions>(ActorTestSettings.Apply);

        var app = builder.Build();
        app.MapDaprRuntime();
        await app.StartAsync();
        await daprd.ConnectAsync(app.GetTestClient(), appApiToken);
        return new DaprActorFixture(sidecar, app, clock);
    }

    public Task WaitForIdleAsync() => Daprd.WaitForIdleAsync();

    // The sidecar has the calls once it recorded them; then they wait for the actor's turn as daprd makes them.
    public Task WaitForQueuedAsync(string actorId, string method, int count) =>
        Sidecar.WaitForRequestsAsync("POST", $"/v1.0/actors/{CounterActor.Type}/{actorId}/method/{method}", count).WaitAsync(TimeSpan.FromSeconds(30));

    public Task<string?> StoredStateAsync(string actorId, string key) => Task.FromResult(Daprd.StateOf(CounterActor.Type, actorId, key));

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
        await Sidecar.DisposeAsync();
    }
}
