using Mesh.Contracts;
using Mesh.Ranker.Scoring;
using Mesh.Runtime;
using Mesh.Serving;

namespace Mesh.Ranker;

public static class Extensions
{
    /// <summary>Registers the ranker: the <c>score</c> method, model loading on start and on <c>model-published</c>.</summary>
    public static IHostApplicationBuilder AddRanker(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<RankerOptions>();
        services.AddServingModel(AppIds.Ranker);
        services.AddSingleton<RankerMetrics>();
        services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<RankerMetrics>());
        services.AddMethod<ScoreRequest, ScoreResponse, ScoreHandler>(AppIds.Ranker, Methods.Score);
        return builder;
    }
}
