using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime;

/// <summary>Conventions every service shares.</summary>
public static class Hosting
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to the configuration section named after the class without its
    /// <c>Options</c> suffix (<c>RouterOptions</c> → <c>Router</c>), validated by data annotations at start-up.
    /// </summary>
    public static IServiceCollection AddValidatedOptions<TOptions>(this IServiceCollection services)
        where TOptions : class
    {
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
