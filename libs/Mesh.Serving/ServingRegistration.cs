using Mesh.Contracts;
using Mesh.Runtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mesh.Serving;

public static class ServingRegistration
{
    /// <summary>
    /// Serves the latest published ranking model in <paramref name="appId"/> on ONNX Runtime: a <see cref="ServingModel"/>
    /// singleton, loaded at start (<see cref="ModelStartupLoader"/>) and on each <c>model-published</c>, running the
    /// graphs <paramref name="graphs"/> names (<c>user-tower</c>, <see cref="ServingOptions.AllTiers"/>); version 0 reads
    /// the configured features (<see cref="FeatureSpaceOptions"/>), a published version those it was trained with. Services in one
    /// process (the standalone host) share the one instance, which then serves what they all need; each app-id keeps its
    /// own subscription.
    /// </summary>
    public static IServiceCollection AddServingModel(this IServiceCollection services, string appId, params string[] graphs)
    {
        services.AddValidatedOptions<ServingOptions>();
        services.AddValidatedOptions<FeatureSpaceOptions>();
        services.Configure<ServingOptions>(o =>
        {
            foreach (var graph in graphs)
            {
                o.Graphs.Add(graph);
            }
        });
        services.TryAddSingleton<ServingModel>();
        services.TryAddSingleton<ModelLoader>();
        services.TryAddSingleton<ServingLag>();
        services.AddSubscription<ModelPublished, ModelPublishedHandler>(appId, Topics.ModelPublished);
        services.AddHostedService<ModelStartupLoader>();
        return services;
    }
}
