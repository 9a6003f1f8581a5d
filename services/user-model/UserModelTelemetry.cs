using Mesh.Runtime.Telemetry;

namespace Mesh.UserModel;

/// <summary>user-model's instruments (meter <c>user-model</c>), read from its <c>/v1/stats</c> figures when collected.</summary>
public static class UserModelTelemetry
{
    public static readonly StatsInstrument[] Instruments =
    [
        new("mesh.user_model.embeddings.published", "{embedding}", "User embeddings recomputed and published.", Monotonic: true, new StatsReading("userModel.embeddingsPublished")),
        new("mesh.user_model.activity.expired", "{event}", "User activity dropped from the recent window.", Monotonic: true, new StatsReading("userModel.activityExpired")),
        new("mesh.user_model.model.version", "{version}", "The model version whose user tower computes embeddings.", Monotonic: false, new StatsReading("userModel.modelVersion")),
    ];
}
