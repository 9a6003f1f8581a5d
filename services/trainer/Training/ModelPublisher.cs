using Mesh.Contracts;
using Mesh.Models;
using Mesh.Onnx;
using Mesh.Runtime;
using Microsoft.Extensions.Options;

namespace Mesh.Trainer.Training;

/// <summary>
/// The model store side of the trainer: publishing a ranking model version (its ONNX graphs, its checkpoint, the
/// latest pointer, then <c>model-published</c>; the oldest checkpoints beyond <see cref="TrainerOptions.KeepCheckpoints"/>
/// deleted) and finding the latest published checkpoint to resume from.
/// </summary>
public sealed class ModelPublisher(IStateStore state, IEventPublisher publisher, IOptions<TrainerOptions> options, TimeProvider clock)
{
    /// <summary>
    /// Publishes <paramref name="model"/> as <paramref name="version"/>. The graphs first, the checkpoint, then the
    /// pointer: whoever follows the pointer finds everything it names; the event last. A failure on the way throws and
    /// leaves the pointer and the event as they were.
    /// </summary>
    /// <returns>The checkpoint written and the publish time.</returns>
    public async Task<(byte[] Checkpoint, DateTimeOffset PublishedAt)> PublishAsync(
        RankingModel model, long version, long examples, WindowVerdict verdict, double validationAuc, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(verdict);
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["validationNe"] = verdict.CandidateNe,
            ["previousNe"] = verdict.ServingNe,
            ["validationAuc"] = validationAuc,
            ["smallNe"] = verdict.SmallNe,
        }.Where(m => double.IsFinite(m.Value)).ToDictionary(StringComparer.Ordinal);
        var (checkpoint, graphs) = await OffPool.RunAsync(() => (model.ToCheckpoint(version, examples, metrics), RankingOnnx.Export(model, version, examples)));

        var now = clock.GetUtcNow();
        var graphKeys = graphs.Keys.ToDictionary(g => g, g => StateKeys.RankingGraph(version, g), StringComparer.Ordinal);
        foreach (var (graph, onnx) in graphs)
        {
            await state.SaveAsync(Components.ModelStore, graphKeys[graph], new ModelGraph { Version = version, Graph = graph, CreatedAt = now, Onnx = onnx }, cancellationToken: cancellationToken);
        }

        var key = StateKeys.RankingCheckpoint(version);
        var record = new ModelCheckpoint { Version = version, TrainedExamples = examples, CreatedAt = now, Checkpoint = checkpoint };
        await state.SaveAsync(Components.ModelStore, key, record, cancellationToken: cancellationToken);
        await state.SaveAsync(Components.ModelStore, StateKeys.LatestRankingModel, new ModelPointer { Version = version, CheckpointKey = key, GraphKeys = graphKeys }, cancellationToken: cancellationToken);
        var expired = version - options.Value.KeepCheckpoints - 1;
        if (expired >= 1)
        {
            await state.DeleteAsync(Components.ModelStore, StateKeys.RankingCheckpoint(expired), cancellationToken: cancellationToken);
            foreach (var graph in graphs.Keys)
            {
                await state.DeleteAsync(Components.ModelStore, StateKeys.RankingGraph(expired, graph), cancellationToken: cancellationToken);
            }
        }

        await publisher.PublishAsync(Topics.ModelPublished, new ModelPublished
        {
            ModelName = AppIds.Ranker,
            Version = version,
            CheckpointKey = key,
            PublishedAt = now,
            TrainedExamples = examples,
            ValidationNe = verdict.CandidateNe,
            PreviousNe = verdict.ServingNe,
            GraphKeys = graphKeys,
        }, cancellationToken);
        return (checkpoint, now);
    }

    /// <summary>
    /// The checkpoint the latest pointer names; null when there is no pointer or it names a missing checkpoint. Store
    /// failures throw (<see cref="StateStoreException"/>, <see cref="HttpRequestException"/>).
    /// </summary>
    public async Task<ModelCheckpoint?> LatestAsync(CancellationToken cancellationToken)
    {
        var pointer = await state.GetAsync<ModelPointer>(Components.ModelStore, StateKeys.LatestRankingModel, cancellationToken);
        return pointer is null ? null : (await state.GetAsync<ModelCheckpoint>(Components.ModelStore, pointer.Value.CheckpointKey, cancellationToken))?.Value;
    }
}
