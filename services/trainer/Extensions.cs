using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Trainer.Training;

namespace Mesh.Trainer;

public static class Extensions
{
    /// <summary>Registers the trainer: it consumes <c>impressions</c> and <c>feedback</c> and publishes <c>model-published</c>.</summary>
    public static IHostApplicationBuilder AddTrainer(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<TrainerOptions>();
        services.AddSingleton<LabelJoiner>();
        services.AddSingleton<StreamingTrainer>();
        services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<StreamingTrainer>());
        services.AddHostedService(sp => sp.GetRequiredService<StreamingTrainer>());
        services.AddSubscription<ImpressionsServed, ImpressionsHandler>(AppIds.Trainer, Topics.Impressions);
        services.AddSubscription<FeedbackReceived, FeedbackHandler>(AppIds.Trainer, Topics.Feedback);
        return builder;
    }
}
