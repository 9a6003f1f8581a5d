using Mesh.Runtime.Actors;
using Mesh.Runtime.Faults;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Embedded;

public static class EmbeddedRuntime
{
    /// <summary>The ports in process: the standalone host's runtime, and the one most tests run on.</summary>
    public static IHostApplicationBuilder AddEmbeddedRuntime(this IHostApplicationBuilder builder)
    {
        builder.AddMeshDefaults();
        var services = builder.Services;
        services.AddValidatedOptions<EmbeddedRuntimeOptions>();

        // Opened (and read whole) by whichever resolves first, the store or the broker; a file it cannot use stops the
        // host there. Disposed after both, which flushes the last writes and closes the file cleanly.
        services.TryAddSingleton(sp => EmbeddedDatabase.Open(
            sp.GetRequiredService<IOptions<EmbeddedRuntimeOptions>>().Value,
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(EmbeddedDatabase).FullName!)));
        services.TryAddSingleton(sp => new EmbeddedStateStore(sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<EmbeddedDatabase>()));
        services.TryAddSingleton<IStateStore>(sp => sp.GetRequiredService<EmbeddedStateStore>());
        services.TryAddSingleton(sp => new EmbeddedBroker(
            sp.GetServices<SubscriptionDescriptor>(),
            sp.GetRequiredService<EventDelivery>(),
            sp.GetRequiredService<DeliveryMetrics>(),
            sp.GetRequiredService<IOptions<EmbeddedRuntimeOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<EmbeddedBroker>>(),
            sp.GetRequiredService<EmbeddedDatabase>()));
        services.TryAddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EmbeddedBroker>());
        services.TryAddSingleton<IServiceInvoker, EmbeddedInvoker>();
        services.AddValidatedOptions<EmbeddedActorOptions>();
        services.TryAddSingleton<EmbeddedActorHost>();
        services.TryAddSingleton<IActorInvoker>(sp => sp.GetRequiredService<EmbeddedActorHost>());
        services.WrapPortsWithFaults();

        // Order matters at shutdown (reverse of start): the broker drains first, since its handlers call actors; then
        // the actors deactivate, each after its running turn has saved its state. The database needs no turn of its own:
        // the store read it whole before anyone could read state, so the actors' reminders are there when they resume.
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedActorHost>());
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        return builder;
    }
}
