using Mesh.Contracts;
using Mesh.Ranker.Scoring;
using Mesh.Runtime;
using Mesh.Runtime.Telemetry;
using Mesh.Serving;
using Microsoft.Extensions.Options;

namespace Mesh.Ranker;

public static class Extensions
{
    /// <summary>Registers the ranker: the <c>score</c> method, model loading on start and on <c>model-published</c>.</summary>
    public static IHostApplicationBuilder AddRanker(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<RankerOptions>();
        services.AddServingModel(AppIds.Ranker, ServingOptions.AllTiers);
        services.AddOptions<ServingOptions>().Configure<IOptions<RankerOptions>>((serving, ranker) =>
        {
            serving.Targets = ranker.Value.Devices;
            serving.AllowCpuFallback = ranker.Value.AllowCpuFallback;
        });
        services.AddSingleton<RankerMetrics>();
        services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<RankerMetrics>());
        services.AddStatsInstruments<RankerMetrics>(AppIds.Ranker, new StatsInstrument("mesh.ranker.model.version", "{version}", "The model version the ranker serves.", Monotonic: false, new StatsReading("ranker.modelVersion")));
        services.AddSingleton<ScoreBatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<ScoreBatcher>());
        services.AddMethod<ScoreRequest, ScoreResponse, ScoreHandler>(AppIds.Ranker, Methods.Score);
        return builder;
    }
}
