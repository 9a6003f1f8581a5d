using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Telemetry;
using Mesh.Trainer.Training;

namespace Mesh.Trainer;

public static class Extensions
{
    /// <summary>Most impressions events daprd delivers in one batch (bulk subscribe).</summary>
    public const int ImpressionBatch = 100;

    /// <summary>Longest an impressions event waits for its batch, in milliseconds.</summary>
    public const int ImpressionBatchWaitMs = 500;

    /// <summary>Registers the trainer: it consumes <c>impressions</c> and <c>feedback</c> and publishes <c>model-published</c>.</summary>
    public static IHostApplicationBuilder AddTrainer(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<TrainerOptions>();
        services.AddValidatedOptions<FeatureSpaceOptions>();
        services.AddSingleton<LabelJoiner>();
        services.AddSingleton<StreamingTrainer>();
        services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<StreamingTrainer>());
        services.AddHostedService(sp => sp.GetRequiredService<StreamingTrainer>());
        services.AddStatsInstruments<StreamingTrainer>(AppIds.Trainer, TrainerTelemetry.Instruments);
        // One impressions event per rank request makes this the mesh's busiest subscription, and its handler only
        // queues the impressions for labelling, so batches save a sidecar round trip per event. The wait (at most
        // 0.5 s) is far inside the label window, which counts from ServedAt, not from arrival.
        services.AddSubscription<ImpressionsServed, ImpressionsHandler>(
            AppIds.Trainer, Topics.Impressions, bulk: new BulkSubscribeOptions { MaxMessagesCount = ImpressionBatch, MaxAwaitDurationMs = ImpressionBatchWaitMs });
        services.AddSubscription<FeedbackReceived, FeedbackHandler>(AppIds.Trainer, Topics.Feedback);
        return builder;
    }
}
