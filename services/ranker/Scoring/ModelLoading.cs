using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Models;

namespace Mesh.Ranker.Scoring;

/// <summary>Reads a checkpoint from the <c>models</c> store and installs it.</summary>
public sealed class ModelLoader(IStateStore state, ServingModel serving, RankerMetrics metrics, ILogger<ModelLoader> logger)
{
    /// <summary>True when the checkpoint was installed or an equal or newer version already serves.</summary>
    public async Task<bool> LoadAsync(string checkpointKey, long version, CancellationToken cancellationToken)
    {
        if (version <= serving.Current.Version)
        {
            return true;
        }

        var checkpoint = await state.GetAsync<RankingCheckpoint>(Components.ModelStore, checkpointKey, cancellationToken);
        if (checkpoint is null)
        {
            logger.LogWarning("Checkpoint {CheckpointKey} of version {Version} is not in the model store", checkpointKey, version);
            return false;
        }

        var model = checkpoint.Value.ToModel();
        if (serving.TryInstall(model))
        {
            metrics.CountModelLoad();
            logger.LogInformation("Serving ranking model v{Version} ({Examples} examples)", model.Version, model.TrainedExamples);
        }

        return true;
    }
}

/// <summary>Loads each published version. A missing checkpoint is retried; a corrupt one is dropped (dead-lettered).</summary>
public sealed class ModelPublishedHandler(ModelLoader loader, ILogger<ModelPublishedHandler> logger) : IEventHandler<ModelPublished>
{
    public async Task<DeliveryOutcome> HandleAsync(ModelPublished data, EventContext context, CancellationToken cancellationToken)
    {
        if (data.ModelName != AppIds.Ranker)
        {
            return DeliveryOutcome.Success;
        }

        try
        {
            return await loader.LoadAsync(data.CheckpointKey, data.Version, cancellationToken) ? DeliveryOutcome.Success : DeliveryOutcome.Retry;
        }
        catch (InvalidDataException e)
        {
            logger.LogError(e, "Refused checkpoint {CheckpointKey}", data.CheckpointKey);
            return DeliveryOutcome.Drop;
        }
    }
}

/// <summary>
/// Before the ranker serves, loads the latest published version, so a restarted ranker does not fall back to the
/// prior. Start-up waits for it (the runtime's own start, the sidecar wait included, comes first).
/// </summary>
public sealed class ModelStartupLoader(IStateStore state, ModelLoader loader, ILogger<ModelStartupLoader> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            var pointer = await state.GetAsync<ModelPointer>(Components.ModelStore, StateKeys.LatestRankingModel, cancellationToken);
            if (pointer is not null)
            {
                await loader.LoadAsync(pointer.Value.CheckpointKey, pointer.Value.Version, cancellationToken);
            }
        }
        catch (Exception e) when (e is StateStoreException or InvalidDataException or HttpRequestException)
        {
            // Serving goes on with the prior model; the next model-published event brings a fresh version.
            logger.LogWarning(e, "Could not load the latest ranking model at start-up");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
