using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// Persists the embedded state stores to <see cref="EmbeddedRuntimeOptions.DataDirectory"/>: loaded at start,
/// written every <see cref="EmbeddedRuntimeOptions.SnapshotInterval"/> and at shutdown, so a restarted host resumes
/// with its models, embeddings and checkpoints. Writes go to a temporary file that replaces the old one.
/// </summary>
public sealed class StateSnapshots(EmbeddedStateStore store, IOptions<EmbeddedRuntimeOptions> options, TimeProvider clock, ILogger<StateSnapshots> logger)
    : BackgroundService
{
    private readonly string? _path = options.Value.DataDirectory is { } dir ? Path.Combine(dir, "state.json") : null;

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_path is not null && File.Exists(_path))
        {
            using var doc = JsonDocument.Parse(await File.ReadAllBytesAsync(_path, cancellationToken));
            store.LoadSnapshot(doc.RootElement);
            logger.LogInformation("Loaded state from {Path}", _path);
        }

        await base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        Save();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_path is null)
        {
            return;
        }

        using var timer = new PeriodicTimer(options.Value.SnapshotInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Save();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Writes the snapshot now.</summary>
    public void Save()
    {
        if (_path is null)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        var temp = _path + ".tmp";
        using (var stream = File.Create(temp))
        using (var writer = new Utf8JsonWriter(stream))
        {
            store.WriteSnapshot(writer);
        }

        File.Move(temp, _path, overwrite: true);
    }
}
