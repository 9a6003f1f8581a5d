using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

internal static class DaprRuntimeRegistration
{
    /// <summary>
    /// Registers the ports on <see cref="DaprSidecarClient"/> the startup wait for the sidecar and
    /// the app-side callbacks (<see cref="DaprAppEndpoints"/>). Shared pieces (clock, metrics, <see cref="EventDelivery"/>) come from
    /// <see cref="MeshDefaults.AddMeshDefaults"/>.
    /// </summary>
    public static IServiceCollection AddDaprSidecar(this IServiceCollection services)
    {
        // Configuration binds first, then the environment fills what is still unset.
        services.AddOptions<DaprSidecarOptions>()
            .BindConfiguration(DaprSidecarOptions.SectionName)
            .Validate(DaprSidecarOptions.IsValid, "DaprSidecar: HttpEndpoint must be an absolute http(s) URL, WaitTimeout and BulkGetParallelism positive.")
            .ValidateOnStart();
        services.AddSingleton<IConfigureOptions<DaprSidecarOptions>>(new DaprSidecarOptionsSetup(Environment.GetEnvironmentVariable));

        services.AddHttpClient<DaprSidecarClient>((sp, http) =>
        {
            var options = sp.GetRequiredService<IOptions<DaprSidecarOptions>>().Value;
            http.BaseAddress = options.BaseAddress;
            if (!string.IsNullOrEmpty(options.ApiToken))
            {
                http.DefaultRequestHeaders.Add("dapr-api-token", options.ApiToken);
            }
        });
        services.TryAddTransient<IStateStore>(sp => sp.GetRequiredService<DaprSidecarClient>());
        services.TryAddTransient<IEventPublisher>(sp => sp.GetRequiredService<DaprSidecarClient>());
        services.TryAddTransient<IServiceInvoker>(sp => sp.GetRequiredService<DaprSidecarClient>());

        services.AddHostedService<DaprSidecarStartup>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IRuntimeEndpoints, DaprAppEndpoints>());
        return services;
    }
}
