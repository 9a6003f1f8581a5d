using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mesh.Runtime.Faults;

/// <summary>
/// Fault injection's wiring: <see cref="AddFaultInjection"/> with the defaults every service gets, and
/// <see cref="WrapPortsWithFaults"/> by each runtime after it registered its ports.
/// </summary>
public static class FaultInjection
{
    /// <summary>Registers <see cref="FaultsOptions"/>, the <see cref="FaultInjector"/> and its figures in <c>/v1/stats</c>.</summary>
    public static IServiceCollection AddFaultInjection(this IServiceCollection services)
    {
        services.AddValidatedOptions<FaultsOptions>();
        services.TryAddSingleton<FaultInjector>();
        if (!services.Any(d => d.ServiceType == typeof(IStatsContributor) && d.ImplementationFactory?.Method.DeclaringType == typeof(FaultInjection)))
        {
            services.AddSingleton<IStatsContributor>(StatsOf);
        }

        return services;
    }

    /// <summary>Wraps the state store and service invocation registered so far with the configured faults.</summary>
    public static IServiceCollection WrapPortsWithFaults(this IServiceCollection services)
    {
        // Wrapped only when configured, decided when the port is first resolved: a host without faults calls its ports directly.
        Decorate<IStateStore>(services, (inner, faults) => faults.Options.AffectsStores ? new FaultyStateStore(inner, faults) : inner);
        Decorate<IServiceInvoker>(services, (inner, faults) => faults.Options.AffectsInvocations ? new FaultyServiceInvoker(inner, faults) : inner);
        return services;
    }

    private static IStatsContributor StatsOf(IServiceProvider services) => services.GetRequiredService<FaultInjector>();

    private static void Decorate<TPort>(IServiceCollection services, Func<TPort, FaultInjector, TPort> wrap)
        where TPort : class
    {
        var original = services.LastOrDefault(d => d.ServiceType == typeof(TPort));
        if (original is null || original.ImplementationFactory?.Target is Decorated)
        {
            return;
        }

        var decorated = new Decorated(sp => wrap((TPort)Create(original, sp), sp.GetRequiredService<FaultInjector>()));
        services.Replace(ServiceDescriptor.Describe(typeof(TPort), decorated.Create, original.Lifetime));
    }

    private static object Create(ServiceDescriptor descriptor, IServiceProvider services) =>
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!);

    /// <summary>Marks a factory as ours, so a second call does not wrap the port twice.</summary>
    private sealed class Decorated(Func<IServiceProvider, object> create)
    {
        public object Create(IServiceProvider services) => create(services);
    }
}
