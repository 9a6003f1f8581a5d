using Mesh.Runtime.Actors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime.Embedded;

public static class EmbeddedRuntime
{
    /// <summary>The ports in process: the standalone host's runtime, and the one most tests run on.</summary>
    public static IHostApplicationBuilder AddEmbeddedRuntime(this IHostApplicationBuilder builder)
    {
        builder.AddMeshDefaults();
        var services = builder.Services;
        services.AddValidatedOptions<EmbeddedRuntimeOptions>();
        services.TryAddSingleton<EmbeddedStateStore>();
        services.TryAddSingleton<IStateStore>(sp => sp.GetRequiredService<EmbeddedStateStore>());
        services.TryAddSingleton<EmbeddedBroker>();
        services.TryAddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EmbeddedBroker>());
        services.TryAddSingleton<IServiceInvoker, EmbeddedInvoker>();
        services.AddValidatedOptions<EmbeddedActorOptions>();
        services.TryAddSingleton<EmbeddedActorHost>();
        services.TryAddSingleton<IActorInvoker>(sp => sp.GetRequiredService<EmbeddedActorHost>());

        // Order matters at shutdown (reverse of start): the broker drains first, since its handlers call actors; then
        // the actors deactivate, each after its running turn has saved its state; then the last state snapshot is
        // taken. At start, snapshots load before the actors reschedule the reminders they hold.
        services.AddHostedService<StateSnapshots>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedActorHost>());
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        return builder;
    }
}
