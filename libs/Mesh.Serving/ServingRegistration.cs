using Mesh.Contracts;
using Mesh.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mesh.Serving;

public static class ServingRegistration
{
    /// <summary>
    /// Serves the latest published ranking model in <paramref name="appId"/>: a <see cref="ServingModel"/> singleton,
    /// loaded at start (<see cref="ModelStartupLoader"/>) and on each <c>model-published</c>. Services in one process
    /// (the standalone host) share the one instance; each app-id keeps its own subscription.
    /// </summary>
    public static IServiceCollection AddServingModel(this IServiceCollection services, string appId)
    {
        services.TryAddSingleton<ServingModel>();
        services.TryAddSingleton<ModelLoader>();
        services.AddSubscription<ModelPublished, ModelPublishedHandler>(appId, Topics.ModelPublished);
        services.AddHostedService<ModelStartupLoader>();
        return services;
    }
}
