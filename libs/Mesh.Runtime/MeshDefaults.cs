using System.Text.Json;
using System.Text.Json.Serialization;
using Mesh.Contracts;
using Mesh.Runtime.Faults;
using Mesh.Runtime.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime;

/// <summary>
/// What every service gets whichever runtime it runs on: the clock, delivery bookkeeping, health probes, <c>/v1/stats</c>,
/// telemetry (traces, and metrics at <c>/metrics</c>) and the mesh's JSON for HTTP bodies. Each runtime's <c>Add…Runtime</c> calls <see cref="AddMeshDefaults"/>.
/// </summary>
public static class MeshDefaults
{
    public static IHostApplicationBuilder AddMeshDefaults(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<MeshRuntimeOptions>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DeliveryMetrics>();
        services.TryAddSingleton<ProcessedEventsRegistry>();
        services.TryAddSingleton<EventDelivery>();
        services.AddFaultInjection();
        services.AddHealthChecks();
        builder.AddMeshTelemetry();

        // HTTP bodies use the same JSON as events and state: enums as camelCase strings, nulls left out.
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.DefaultIgnoreCondition = MeshJson.Options.DefaultIgnoreCondition;
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        });
        return builder;
    }

    /// <summary>Maps <c>/healthz</c> (readiness; daprd's app health check calls it without a token), <c>/livez</c>, <c>/metrics</c> and <c>/v1/stats</c>.</summary>
    public static IEndpointRouteBuilder MapMeshDefaults(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks("/healthz");
        endpoints.MapGet("/livez", () => TypedResults.Ok());
        endpoints.MapMeshTelemetry();
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
        return endpoints;
    }
}
