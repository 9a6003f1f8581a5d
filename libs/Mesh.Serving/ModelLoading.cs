using Mesh.Contracts;
using Mesh.Learning.Checkpoints;
using Mesh.Models;
using Mesh.Onnx;
using Mesh.Runtime;
using Mesh.Serving.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Serving;

/// <summary>
/// Reads a published version's ONNX graphs from the <c>models</c> store (those this process serves), builds and warms
/// their sessions off the caller's thread, and installs them. A version published before ONNX (no graph keys) is
/// built from its checkpoint.
/// </summary>
public sealed class ModelLoader(IStateStore state, ServingModel serving, IOptions<ServingOptions> options, ILogger<ModelLoader> logger)
{
    private readonly Lock _gate = new();
    private (long Version, Task<bool> Load)? _inFlight;

    /// <summary>
    /// True when the version was installed or an equal or newer one already serves; false when it is not in the store
    /// (yet). Throws <see cref="ModelRefusedException"/> when it cannot serve: a corrupt checkpoint, a graph that does
    /// not load or warm, or records that hold another version. The version serving keeps serving then. A call for a
    /// version already loading shares that load: in the standalone host ranker and user-model share this loader and
    /// both receive each <c>model-published</c>, and one build of the sessions serves both.
    /// </summary>
    public Task<bool> LoadAsync(string checkpointKey, long version, IReadOnlyDictionary<string, string>? graphKeys, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_inFlight is { } loading && loading.Version == version && !loading.Load.IsCompleted)
            {
                return loading.Load;
            }

            var load = LoadOnceAsync(checkpointKey, version, graphKeys, cancellationToken);
            _inFlight = (version, load);
            return load;
        }
    }

    private async Task<bool> LoadOnceAsync(string checkpointKey, long version, IReadOnlyDictionary<string, string>? graphKeys, CancellationToken cancellationToken)
    {
        await Task.Yield(); // the caller's lock is released before any work
        if (version <= serving.Version)
        {
            return true;
        }

        if (graphKeys is null)
        {
            return await LoadCheckpointAsync(checkpointKey, version, cancellationToken);
        }

        if (options.Value.Graphs.Contains(OnnxNames.UserTower) && !graphKeys.ContainsKey(OnnxNames.UserTower))
        {
            throw new ModelRefusedException($"version {version} has no {OnnxNames.UserTower} graph, which this service runs");
        }

        var graphs = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (graph, key) in graphKeys.Where(g => options.Value.Serves(g.Key)))
        {
            var stored = await state.GetAsync<ModelGraph>(Components.ModelStore, key, cancellationToken);
            if (stored is null)
            {
                logger.LogWarning("Graph {GraphKey} of version {Version} is not in the model store", key, version);
                return false;
            }

            if (stored.Value.Version != version || stored.Value.Graph != graph)
            {
                throw new ModelRefusedException($"{key} holds graph {stored.Value.Graph} of version {stored.Value.Version}, expected {graph} of version {version}");
            }

            graphs[graph] = stored.Value.Onnx;
        }

        // Building and warming sessions is CPU work (tens of megabytes parsed and optimised): off the caller's thread-pool thread.
        var installed = await Task.Factory.StartNew(
            () => serving.TryInstall(version, graphs), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Installed(installed, version, graphs.Keys);
        return true;
    }

    private async Task<bool> LoadCheckpointAsync(string checkpointKey, long version, CancellationToken cancellationToken)
    {
        var stored = await state.GetAsync<ModelCheckpoint>(Components.ModelStore, checkpointKey, cancellationToken);
        if (stored is null)
        {
            logger.LogWarning("Checkpoint {CheckpointKey} of version {Version} is not in the model store", checkpointKey, version);
            return false;
        }

        var checkpoint = stored.Value;
        var installed = await Task.Factory.StartNew(
            () =>
            {
                RankingModel model;
                try
                {
                    model = RankingModel.FromCheckpoint(checkpoint.Checkpoint);
                }
                catch (CheckpointException e)
                {
                    throw new ModelRefusedException($"checkpoint {checkpointKey}: {e.Message}", e);
                }

                if (model.Version != version || checkpoint.Version != version)
                {
                    throw new ModelRefusedException($"checkpoint {checkpointKey} holds version {model.Version} (record {checkpoint.Version}), expected {version}");
                }

                return serving.TryInstall(model);
            },
            cancellationToken,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        Installed(installed, version, ["checkpoint"]);
        return true;
    }

    private void Installed(bool installed, long version, IEnumerable<string> graphs)
    {
        if (installed)
        {
            logger.LogInformation("Serving ranking model v{Version} on ONNX Runtime ({Graphs})", version, string.Join(", ", graphs));
        }
    }
}

/// <summary>Loads each published version. A missing record is retried; a version that cannot serve is refused (dead-lettered) and the old version serves on.</summary>
public sealed class ModelPublishedHandler(ModelLoader loader, ServingLag lag, ILogger<ModelPublishedHandler> logger) : IEventHandler<ModelPublished>
{
    public async Task<DeliveryOutcome> HandleAsync(ModelPublished data, EventContext context, CancellationToken cancellationToken)
    {
        if (data.ModelName != AppIds.Ranker)
        {
            return DeliveryOutcome.Success;
        }

        lag.Record(data);

        try
        {
            return await loader.LoadAsync(data.CheckpointKey, data.Version, data.GraphKeys, cancellationToken) ? DeliveryOutcome.Success : DeliveryOutcome.Retry;
        }
        catch (ModelRefusedException e)
        {
            logger.LogError(e, "Refused ranking model v{Version}: {Reason}; the version serving keeps serving", data.Version, e.Message);
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
                await loader.LoadAsync(pointer.Value.CheckpointKey, pointer.Value.Version, pointer.Value.GraphKeys, cancellationToken);
            }
        }
        catch (Exception e) when (e is StateStoreException or ModelRefusedException or HttpRequestException)
        {
            // Serving goes on with the version it has; the next model-published event brings a fresh one.
            logger.LogWarning(e, "Could not load the latest ranking model at start-up");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
