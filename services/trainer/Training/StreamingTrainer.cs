using Mesh.Contracts;
using Mesh.Dapr;
using Mesh.Learning.Metrics;
using Mesh.Models;
using Microsoft.Extensions.Options;

namespace Mesh.Trainer.Training;

/// <summary>
/// The trainer's loop. Every <see cref="TrainerOptions.CollectInterval"/> it takes the impressions whose label window
/// closed, in time order. Every <see cref="TrainerOptions.ValidationWindow"/> examples it first evaluates the model
/// being trained and the one serving on that window (progressive validation: neither has seen it), publishes the
/// evaluated snapshot when it is not worse, and only then trains on the window. So a published version's NE was
/// measured on data it never trained on.
/// </summary>
public sealed class StreamingTrainer(
    LabelJoiner joiner,
    IStateStore state,
    IEventPublisher publisher,
    IOptions<TrainerOptions> options,
    TimeProvider clock,
    ILogger<StreamingTrainer> logger) : BackgroundService, IStatsContributor
{
    private readonly List<LabelledExample> _window = [];
    private readonly BinaryMetrics _served = new();
    private readonly Lock _statsLock = new();
    private readonly SemaphoreSlim _collecting = new(1, 1);
    private OnlineTrainer _trainer = new(RankingModel.Initial, options.Value.LearningRate);
    private RankingModel _serving = RankingModel.Initial;
    private long _trainedSincePublish;
    private long _windows;
    private long _rejected;
    private double _lastCandidateNe = double.NaN;
    private double _lastServingNe = double.NaN;

    /// <summary>Version of the last model this trainer published (or resumed from).</summary>
    public long PublishedVersion => Volatile.Read(ref _serving).Version;

    /// <summary>Resumes from the latest checkpoint before the loop starts, so nothing trains on the wrong weights.</summary>
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        await ResumeAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CollectInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CollectAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    logger.LogError(e, "Training step failed; the next tick goes on");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Takes the labelled examples due now, scores the served predictions, and closes full windows. One collection
    /// runs at a time, so a caller other than the loop (a test, a shutdown) can take a turn safely.
    /// </summary>
    public async Task CollectAsync(CancellationToken cancellationToken)
    {
        await _collecting.WaitAsync(cancellationToken);
        try
        {
            await CollectDueAsync(cancellationToken);
        }
        finally
        {
            _collecting.Release();
        }
    }

    public override void Dispose()
    {
        _collecting.Dispose();
        base.Dispose();
    }

    private async Task CollectDueAsync(CancellationToken cancellationToken)
    {
        foreach (var example in joiner.CollectLabelled(clock.GetUtcNow()))
        {
            lock (_statsLock)
            {
                _served.Add((float)example.ServedScore, example.Clicked ? 1f : 0f);
            }

            _window.Add(example);
            if (_window.Count >= options.Value.ValidationWindow)
            {
                await CloseWindowAsync(cancellationToken);
            }
        }
    }

    private async Task CloseWindowAsync(CancellationToken cancellationToken)
    {
        var candidate = new BinaryMetrics();
        var serving = new BinaryMetrics();
        var servingTier = _serving.Tier(Tiers.Large);
        foreach (var e in _window)
        {
            candidate.Add((float)_trainer.Predict(Tiers.Large, e.Input), e.Clicked ? 1f : 0f);
            serving.Add((float)servingTier.Predict(e.Input), e.Clicked ? 1f : 0f);
        }

        Interlocked.Increment(ref _windows);
        lock (_statsLock)
        {
            _lastCandidateNe = candidate.NormalizedEntropy;
            _lastServingNe = serving.NormalizedEntropy;
        }

        // NaN (a window without clicks) compares false: nothing is published on a window that cannot tell.
        if (_trainedSincePublish > 0 && candidate.NormalizedEntropy <= serving.NormalizedEntropy)
        {
            await PublishAsync(candidate.NormalizedEntropy, serving.NormalizedEntropy, cancellationToken);
        }
        else
        {
            Interlocked.Increment(ref _rejected);
        }

        foreach (var e in _window)
        {
            _trainer.Train(e.Input, e.Clicked);
        }

        _trainedSincePublish += _window.Count;
        _window.Clear();
    }

    private async Task PublishAsync(double validationNe, double previousNe, CancellationToken cancellationToken)
    {
        var version = _serving.Version + 1;
        var model = _trainer.Snapshot(version);
        var now = clock.GetUtcNow();
        var key = StateKeys.RankingCheckpoint(version);
        await state.SaveAsync(Components.ModelStore, key, RankingCheckpoint.From(model, now), cancellationToken: cancellationToken);
        await state.SaveAsync(Components.ModelStore, StateKeys.LatestRankingModel, new ModelPointer { Version = version, CheckpointKey = key }, cancellationToken: cancellationToken);
        var expired = version - options.Value.KeepCheckpoints - 1;
        if (expired >= 1)
        {
            await state.DeleteAsync(Components.ModelStore, StateKeys.RankingCheckpoint(expired), cancellationToken: cancellationToken);
        }

        await publisher.PublishAsync(Topics.ModelPublished, new ModelPublished
        {
            ModelName = AppIds.Ranker,
            Version = version,
            CheckpointKey = key,
            PublishedAt = now,
            TrainedExamples = model.TrainedExamples,
            ValidationNe = validationNe,
            PreviousNe = previousNe,
        }, cancellationToken);
        Volatile.Write(ref _serving, model);
        _trainedSincePublish = 0;
        logger.LogInformation("Published ranking model v{Version}: NE {Ne:F4} vs {PreviousNe:F4} serving", version, validationNe, previousNe);
    }

    /// <summary>Continues from the latest published checkpoint, so a restart does not begin cold.</summary>
    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        try
        {
            var pointer = await state.GetAsync<ModelPointer>(Components.ModelStore, StateKeys.LatestRankingModel, cancellationToken);
            if (pointer is null)
            {
                return;
            }

            var checkpoint = await state.GetAsync<RankingCheckpoint>(Components.ModelStore, pointer.Value.CheckpointKey, cancellationToken);
            if (checkpoint is null)
            {
                return;
            }

            var model = checkpoint.Value.ToModel();
            _trainer = new OnlineTrainer(model, options.Value.LearningRate);
            Volatile.Write(ref _serving, model);
            logger.LogInformation("Resumed training from model v{Version}", model.Version);
        }
        catch (Exception e) when (e is StateStoreException or InvalidDataException or HttpRequestException)
        {
            logger.LogWarning(e, "Could not resume from the latest checkpoint; training from scratch");
        }
    }

    public void Contribute(IDictionary<string, object?> stats)
    {
        lock (_statsLock)
        {
            // servedNe: what the mesh actually served, over every labelled impression so far.
            stats["servedNe"] = Finite(_served.NormalizedEntropy);
            stats["baseRateNe"] = BaseRateNe(_served);
            stats["labelledImpressions"] = _served.Examples;
            stats["trainer"] = new
            {
                publishedVersion = PublishedVersion,
                windows = Interlocked.Read(ref _windows),
                rejectedWindows = Interlocked.Read(ref _rejected),
                lastCandidateNe = Finite(_lastCandidateNe),
                lastServingNe = Finite(_lastServingNe),
                pendingLabels = joiner.PendingCount,
                lateClicks = joiner.LateClicks,
                clicks = (long)Math.Round(_served.BaseRate * _served.Weight),
            };
        }
    }

    /// <summary>
    /// NE of always predicting the observed click rate p: its mean log loss is H(p), the very denominator of NE,
    /// so it is exactly 1 once both labels occur. Reported so a reader can compare without knowing that.
    /// </summary>
    private static double? BaseRateNe(BinaryMetrics served) => served.BaseRate is > 0 and < 1 ? 1.0 : null;

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;
}
