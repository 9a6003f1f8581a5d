using Mesh.Contracts;
using Mesh.Precompute.Speculation;
using Mesh.Runtime;
using Mesh.Runtime.Telemetry;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mesh.Precompute;

public static class Extensions
{
    /// <summary>Registers precompute: it watches impressions, user events and embeddings, and fills the <c>precomputed</c> store.</summary>
    public static IHostApplicationBuilder AddPrecompute(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<PrecomputeOptions>();
        services.AddSingleton<ActiveUsers>();
        services.AddSingleton<PrecomputeLedger>();
        services.TryAddSingleton<IFoundationRunner, PlaceholderFoundationRunner>();
        services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<PrecomputeLedger>());
        services.AddStatsInstruments<PrecomputeLedger>(AppIds.Precompute, PrecomputeTelemetry.Instruments);
        services.AddSingleton<Precomputer>();
        services.AddSubscription<ImpressionsServed, ImpressionsHandler>(AppIds.Precompute, Topics.Impressions);
        services.AddSubscription<UserActed, UserActedHandler>(AppIds.Precompute, Topics.UserEvents);
        services.AddSubscription<UserEmbeddingUpdated, EmbeddingUpdatedHandler>(AppIds.Precompute, Topics.UserEmbeddings);
        services.AddHostedService<LedgerSweeper>();
        return builder;
    }
}
