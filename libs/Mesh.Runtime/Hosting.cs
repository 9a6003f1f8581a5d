using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime;

/// <summary>Conventions every service shares.</summary>
public static class Hosting
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to the configuration section named after the class without its
    /// <c>Options</c> suffix (<c>RouterOptions</c> → <c>Router</c>), validated by data annotations at start-up. Once per
    /// collection: services sharing a process (the standalone host) may each ask for the same options, and a second
    /// binding would append a list section's items again.
    /// </summary>
    public static IServiceCollection AddValidatedOptions<TOptions>(this IServiceCollection services)
        where TOptions : class
    {
        if (services.Any(d => d.ServiceType == typeof(IOptionsChangeTokenSource<TOptions>)))
        {
            return services;
        }

        var name = typeof(TOptions).Name;
        var section = name.EndsWith("Options", StringComparison.Ordinal) ? name[..^"Options".Length] : name;
        services.AddOptions<TOptions>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();
        return services;
    }
}

/// <summary>
/// Adds a service's figures to <c>GET /v1/stats</c>. Every contributor in the process answers, so the standalone
/// host's stats cover all five services while a single service under Dapr reports its own.
/// </summary>
public interface IStatsContributor
{
    void Contribute(IDictionary<string, object?> stats);
}
