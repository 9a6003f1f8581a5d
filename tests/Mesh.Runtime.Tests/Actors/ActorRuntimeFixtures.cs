using Mesh.Runtime.Actors;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Runtime.Tests.Actors;

/// <summary>The <see cref="CounterActor"/> hosted on one runtime, with what the shared tests need to drive and observe it.</summary>
public interface IActorRuntimeFixture : IAsyncDisposable
{
    FakeTimeProvider Clock { get; }
    IActorInvoker Actors { get; }
    ActorJournal Journal { get; }

    /// <summary>The status a caller sees for an unknown method (the embedded runtime says 404).</summary>
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
