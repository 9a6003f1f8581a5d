using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime.Dapr;

public static class DaprRuntime
{
    /// <summary>The ports over the Dapr sidecar: how each service runs under <c>dapr run</c> and on Kubernetes.</summary>
    public static IHostApplicationBuilder AddDaprRuntime(this IHostApplicationBuilder builder)
    {
        builder.AddMeshDefaults();
        builder.Services.AddDaprSidecar();
        return builder;
    }

    /// <summary>Maps the hosting defaults and what daprd calls on the app (subscriptions, event routes, methods, actors).</summary>
    public static IEndpointRouteBuilder MapDaprRuntime(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMeshDefaults();
        foreach (var runtimeEndpoints in endpoints.ServiceProvider.GetServices<IRuntimeEndpoints>())
        {
            runtimeEndpoints.Map(endpoints);
        }

        return endpoints;
    }
}

/// <summary>Endpoints the Dapr runtime serves on the app's port.</summary>
internal interface IRuntimeEndpoints
{
    void Map(IEndpointRouteBuilder endpoints);
}
