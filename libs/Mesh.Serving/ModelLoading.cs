using Mesh.Contracts;
using Mesh.Learning.Checkpoints;
using Mesh.Models;
using Mesh.Runtime;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Mesh.Serving;

/// <summary>Reads a checkpoint from the <c>models</c> store and installs it.</summary>
public sealed class ModelLoader(IStateStore state, ServingModel serving, ILogger<ModelLoader> logger)
{
    /// <summary>
    /// True when the checkpoint was installed or an equal or newer version already serves; false when it is not in the
    /// store (yet). Throws <see cref="CheckpointException"/> for a corrupt checkpoint or one that holds another version.
    /// </summary>
    public async Task<bool> LoadAsync(string checkpointKey, long version, CancellationToken cancellationToken)
    {
        if (version <= serving.Current.Version)
        {
            return true;
        }

        var stored = await state.GetAsync<ModelCheckpoint>(Components.ModelStore, checkpointKey, cancellationToken);
        if (stored is null)
        {
            logger.LogWarning("Checkpoint {CheckpointKey} of version {Version} is not in the model store", checkpointKey, version);
            return false;
        }

        // Rebuilding a model is CPU work (tens of megabytes checked and copied): off the caller's thread-pool thread.
        var checkpoint = stored.Value;
        var model = await Task.Factory.StartNew(
            () => RankingModel.FromCheckpoint(checkpoint.Checkpoint), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (model.Version != version || checkpoint.Version != version)
        {
            throw new CheckpointException($"checkpoint {checkpointKey} holds version {model.Version} (record {checkpoint.Version}), expected {version}");
        }

        if (serving.TryInstall(model))
        {
            logger.LogInformation("Serving ranking model v{Version} ({Examples} examples)", model.Version, model.TrainedExamples);
        }

        return true;
    }
}

/// <summary>Loads each published version. A missing checkpoint is retried; a corrupt one is refused (dead-lettered) and the old version serves on.</summary>
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
        catch (CheckpointException e)
        {
            logger.LogError(e, "Refused checkpoint {CheckpointKey}", data.CheckpointKey);
            return DeliveryOutcome.Drop;
        }
    }
}

/// <summary>
/// Before the service serves, loads the latest published version, so a restarted service does not fall back to the
/// untrained model. Start-up waits for it (the runtime's own start, the sidecar wait included, comes first).
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
        catch (Exception e) when (e is StateStoreException or CheckpointException or HttpRequestException)
        {
            // Serving goes on with the version it has; the next model-published event brings a fresh one.
            logger.LogWarning(e, "Could not load the latest ranking model at start-up");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
