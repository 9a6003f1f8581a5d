using Mesh.Runtime;
using Mesh.Serving;

namespace Mesh.UserModel.Embeddings;

/// <summary>user-model's counters, reported under <c>userModel</c> in <c>/v1/stats</c>.</summary>
public sealed class UserModelMetrics(ServingModel serving) : IStatsContributor
{
    private long _embeddings;
    private long _expired;
    private long _duplicates;

    public void CountEmbedding() => Interlocked.Increment(ref _embeddings);
    public void CountExpired() => Interlocked.Increment(ref _expired);
    public void CountDuplicate() => Interlocked.Increment(ref _duplicates);

    public void Contribute(IDictionary<string, object?> stats) => stats["userModel"] = new
    {
        embeddingsPublished = Interlocked.Read(ref _embeddings),
        modelVersion = serving.Version,
        activityExpired = Interlocked.Read(ref _expired),
        duplicateEvents = Interlocked.Read(ref _duplicates),
    };
}
