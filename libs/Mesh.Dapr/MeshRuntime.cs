using Mesh.Dapr.Actors;
using Mesh.Dapr.Embedded;
using Mesh.Dapr.Sidecar;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Dapr;

/// <summary>The one place that chooses and wires a runtime. Services only see the ports.</summary>
public static class MeshRuntime
{
    /// <summary>
    /// Registers the building-block ports on the runtime named by <c>MeshRuntime:Runtime</c>, or on
    /// <paramref name="runtime"/> when given (the standalone host passes <see cref="MeshRuntimeKind.Embedded"/>).
    /// </summary>
    public static IHostApplicationBuilder AddMeshRuntime(this IHostApplicationBuilder builder, MeshRuntimeKind? runtime = null)
    {
        var services = builder.Services;
        services.AddValidatedOptions<MeshRuntimeOptions>();
        var kind = runtime ?? builder.Configuration.GetSection("MeshRuntime").GetValue("Runtime", MeshRuntimeKind.Dapr);
        if (runtime is { } forced)
        {
            services.Configure<MeshRuntimeOptions>(o => o.Runtime = forced);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DeliveryMetrics>();
        services.TryAddSingleton<ProcessedEventsRegistry>();
        services.TryAddSingleton<EventDelivery>();
        services.AddValidatedOptions<ActorRuntimeOptions>();
        services.TryAddSingleton<ActorManager>();
        services.AddHealthChecks();

        // HTTP bodies use the same JSON as events and state: enums as camelCase strings, nulls left out.
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.DefaultIgnoreCondition = MeshJson.Options.DefaultIgnoreCondition;
            o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase));
        });

        if (kind == MeshRuntimeKind.Embedded)
        {
            AddEmbedded(services);
        }
        else
        {
            services.AddDaprRuntime();
        }

        return builder;
    }

    /// <summary>Maps the health probes and whatever the runtime serves (Dapr: <c>/dapr/subscribe</c>, event routes, methods, actor callbacks).</summary>
    public static IEndpointRouteBuilder MapMeshRuntime(this IEndpointRouteBuilder endpoints)
    {
        // Readiness and liveness; daprd's app health check uses /healthz and sends no token.
        endpoints.MapHealthChecks("/healthz");
        endpoints.MapGet("/livez", () => TypedResults.Ok());
        endpoints.MapGet("/v1/stats", (IEnumerable<IStatsContributor> contributors, DeliveryMetrics delivery) =>
        {
            var stats = new SortedDictionary<string, object?>(StringComparer.Ordinal);
            foreach (var contributor in contributors)
            {
                contributor.Contribute(stats);
            }

            stats["delivery"] = delivery.All.Select(c => new
            {
                appId = c.AppId,
                topic = c.Topic,
                received = c.Received,
                delivered = c.Delivered,
                retried = c.Retried,
                deadLettered = c.DeadLettered,
                poison = c.Poison,
                duplicates = c.Duplicates,
            });
            return TypedResults.Ok(stats);
        });
        foreach (var runtimeEndpoints in endpoints.ServiceProvider.GetServices<IRuntimeEndpoints>())
        {
            runtimeEndpoints.Map(endpoints);
        }

        return endpoints;
    }

    private static void AddEmbedded(IServiceCollection services)
    {
        services.AddValidatedOptions<EmbeddedRuntimeOptions>();
        services.TryAddSingleton<EmbeddedStateStore>();
        services.TryAddSingleton<IStateStore>(sp => sp.GetRequiredService<EmbeddedStateStore>());
        services.TryAddSingleton<EmbeddedBroker>();
        services.TryAddSingleton<IEventPublisher>(sp => sp.GetRequiredService<EmbeddedBroker>());
        services.TryAddSingleton<IServiceInvoker, EmbeddedInvoker>();
        services.TryAddSingleton(sp => new EmbeddedActorRuntime(
            sp.GetRequiredService<ActorManager>(),
            sp.GetRequiredService<IStateStore>(),
            sp.GetRequiredService<EmbeddedStateStore>(),
            sp.GetRequiredService<IOptions<ActorRuntimeOptions>>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<EmbeddedActorRuntime>>()));
        services.TryAddSingleton<IActorInvoker>(sp => sp.GetRequiredService<EmbeddedActorRuntime>());
        services.TryAddSingleton<IActorBackend>(sp => sp.GetRequiredService<EmbeddedActorRuntime>());

        // Order matters at shutdown (reverse of start): the broker drains first, since its handlers call actors; then
        // the actors deactivate, saving their state; then the last state snapshot is taken. At start, snapshots load
        // before the actors reschedule the reminders they hold.
        services.AddHostedService<StateSnapshots>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedActorRuntime>());
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
    }
}

/// <summary>Endpoints a runtime serves on the app's port.</summary>
public interface IRuntimeEndpoints
{
    void Map(IEndpointRouteBuilder endpoints);
}
