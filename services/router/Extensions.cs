using Mesh.Contracts;
using Mesh.Router.Api;
using Mesh.Router.Embeddings;
using Mesh.Router.Features;
using Mesh.Router.Impressions;
using Mesh.Router.Routing;
using Mesh.Runtime;

namespace Mesh.Router;

public static class Extensions
{
    /// <summary>Registers the router: ERCache, the tier policy, the feature space, the impression publisher and the public API's OpenAPI document.</summary>
    public static IHostApplicationBuilder AddRouter(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<RouterOptions>();
        services.AddValidatedOptions<ApiAccessOptions>();
        services.AddApiAccess();
        services.AddValidatedOptions<FeatureSpaceOptions>();
        services.AddSingleton<FeatureFilter>();
        services.AddProblemDetails();
        services.AddOpenApi();
        services.AddSingleton<RouterMetrics>();
        services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<RouterMetrics>());
        services.AddSingleton<EmbeddingCache>();
        services.AddHostedService<EmbeddingCacheSweeper>();
        services.AddSingleton<TierPolicy>();
        services.AddSingleton<ImpressionQueue>();
        services.AddHostedService<ImpressionPublisher>();
        return builder;
    }

    /// <summary>
    /// Maps the public API (<c>/v1/rank</c>, <c>/v1/events</c>, <c>/v1/feedback</c>) behind its configured access checks
    /// (<see cref="ApiAccessOptions"/>), and <c>/openapi/v1.json</c>.
    /// </summary>
    public static WebApplication MapRouter(this WebApplication app)
    {
        app.UseRateLimiter();
        app.MapOpenApi();
        app.MapRankApi().RequireApiAccess(app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ApiAccessOptions>>().Value);
        return app;
    }
}
