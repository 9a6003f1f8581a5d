using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Testing;

/// <summary>A started host on the embedded runtime with a fake clock; tests add their subscriptions and methods.</summary>
public sealed class EmbeddedHost : IAsyncDisposable
{
    private EmbeddedHost(IHost host, FakeTimeProvider clock)
    {
        Host = host;
        Clock = clock;
    }

    public IHost Host { get; }
    public FakeTimeProvider Clock { get; }
    public IServiceProvider Services => Host.Services;
    public EmbeddedBroker Broker => Services.GetRequiredService<EmbeddedBroker>();
    public EmbeddedActorHost Actors => Services.GetRequiredService<EmbeddedActorHost>();
    public DeliveryMetrics Metrics => Services.GetRequiredService<DeliveryMetrics>();
    public IStateStore State => Services.GetRequiredService<IStateStore>();
    public IEventPublisher Publisher => Services.GetRequiredService<IEventPublisher>();

    /// <summary>Starts a host; <paramref name="configure"/> adds services (a service's <c>AddX</c>, test subscriptions).</summary>
    public static Task<EmbeddedHost> StartAsync(Action<IServiceCollection>? configure = null, Action<EmbeddedRuntimeOptions>? options = null) =>
        StartAsync((IHostApplicationBuilder b) => configure?.Invoke(b.Services), options);

    /// <summary>Starts a host; <paramref name="clock"/> lets a restarted host go on from where the last one stopped.</summary>
    public static async Task<EmbeddedHost> StartAsync(Action<IHostApplicationBuilder> configure, Action<EmbeddedRuntimeOptions>? options = null, FakeTimeProvider? clock = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        clock ??= TestClock.Create();
        builder.Services.AddSingleton<TimeProvider>(clock);
        builder.AddEmbeddedRuntime();
        builder.Services.Configure<EmbeddedRuntimeOptions>(o =>
        {
            o.InitialBackoff = TimeSpan.Zero;
            options?.Invoke(o);
        });
        configure(builder);
        var host = builder.Build();
        await host.StartAsync();
        return new EmbeddedHost(host, clock);
    }

    public async ValueTask DisposeAsync()
    {
        await Host.StopAsync();
        Host.Dispose();
    }
}

