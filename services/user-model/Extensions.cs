using Mesh.Contracts;
using Mesh.Onnx;
using Mesh.Runtime;
using Mesh.Runtime.Actors;
using Mesh.Runtime.Telemetry;
using Mesh.Serving;
using Mesh.UserModel.Embeddings;

namespace Mesh.UserModel;

public static class Extensions
{
    /// <summary>
    /// Registers user-model: it consumes <c>user-events</c> and hands each event to the user's actor (type
    /// <c>user</c>), which keeps the user's activity and embedding; it runs the user tower of the latest published
    /// ranking model, loaded at start and on <c>model-published</c>.
    /// </summary>
    public static IHostApplicationBuilder AddUserModel(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddValidatedOptions<UserModelOptions>();
        services.AddServingModel(AppIds.UserModel, OnnxNames.UserTower);
        services.AddSingleton<UserModelMetrics>();
        services.AddSingleton<IStatsContributor>(sp => sp.GetRequiredService<UserModelMetrics>());
        services.AddStatsInstruments<UserModelMetrics>(AppIds.UserModel, UserModelTelemetry.Instruments);
        services.AddSubscription<UserActed, UserActedHandler>(AppIds.UserModel, Topics.UserEvents);
        services.AddActorType<UserActor>(AppIds.UserModel, ActorTypes.User);
        return builder;
    }
}
