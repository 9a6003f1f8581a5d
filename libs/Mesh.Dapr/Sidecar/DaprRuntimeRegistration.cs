using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Dapr.Sidecar;

// Placeholder while the sidecar runtime is written in this same change.
internal static class DaprRuntimeRegistration
{
    public static IServiceCollection AddDaprRuntime(this IServiceCollection services) => services;
}
