using Mesh.Contracts;
using Mesh.Learning.Checkpoints;
using Mesh.Learning.Metrics;
using Mesh.Models;
using Mesh.Models.Features;
using Mesh.Models.Training;
using Mesh.Runtime;
using Microsoft.Extensions.Options;

namespace Mesh.Trainer.Training;

/// <summary>
/// The trainer's loop. Every <see cref="TrainerOptions.CollectInterval"/> it takes the requests that are labelled (see
/// <see cref="LabelJoiner"/>), in event-time order, and trains the model (user tower and both tiers, end to end) on them
/// in mini-batches of up to <see cref="TrainerOptions.BatchRequests"/> requests. Each step first predicts its batch, then
/// learns from it, so every prediction is on data the model has not seen (progressive validation); the version serving
/// predicts the same batches. What is judged and published is the weights' running average
/// (<see cref="TrainerOptions.WeightAverageDecay"/>), whose level of prediction holds steadier from step to step than the
/// raw weights'.
/// </summary>
/// <remarks>
/// <para>
/// Cadence: a window decides after <see cref="TrainerOptions.ValidationWindow"/> examples, or once its examples span
/// <see cref="TrainerOptions.ValidationWindowTime"/> of event time and number at least
/// <see cref="TrainerOptions.MinValidationExamples"/>, whichever first (the first window of a trainer that never
/// published: after <see cref="TrainerOptions.FirstPublishExamples"/>). The average is published when its large-tier
/// NE on the window is not worse than the serving version's on the same examples. A window predicted by serving's own
/// weights only (the first after a start or a publish, when it is a single batch) cannot tell and publishes nothing.
/// </para>
/// <para>
/// Cold start (<see cref="TrainerOptions.CalibrateColdStart"/>): until the first publish, each batch is predicted only
/// after the head biases were shifted so that the mean prediction matches the click rate of the labels trained on
/// before it. The calibration is part of the learner and uses no label of the batch it predicts, so the window's
/// predictions stay progressive, and the gate compares like with like: a version whose only merit is the base rate of
/// this traffic beats an uncalibrated version 0 on exactly the examples both predicted, and is published; one that is
/// worse than version 0 is not. Version 0 itself (the model library's prior, about 4%) is what serving uses until then.
/// </para>
/// <para>
/// Shedding: a collection that finds more than <see cref="TrainerOptions.MaxBacklogExamples"/> labelled examples
/// waiting sheds the oldest beyond it (counted and logged), so a trainer slower than the traffic trains on the newest.
/// With <see cref="TrainerOptions.Train"/> off, the labelled requests are counted (served NE, <c>untrainedExamples</c>)
/// and dropped: no step, no window, no publish.
/// </para>
/// <para>
/// The subscription handlers only queue impressions and feedback in the <see cref="LabelJoiner"/>; the steps run here,
/// on a thread of their own per batch, so the thread pool stays free for requests and event delivery.
/// </para>
/// <para>
/// The parts: this loop (collecting, shedding, cutting batches, the serving version's predictions, stats); the step
/// itself, shared with the quality benchmark (<see cref="RankingLearner"/>, with <see cref="ColdStartCalibration"/>);
/// the window and its gate (<see cref="ValidationWindow"/>); the model store (<see cref="ModelPublisher"/>). A
/// foundation model plugs in as the learner's <see cref="ITeacher"/>.
/// </para>
/// </remarks>
public sealed class StreamingTrainer(
    LabelJoiner joiner,
    IStateStore state,
    IEventPublisher publisher,
    IOptions<TrainerOptions> options,
    TimeProvider clock,
    ILogger<StreamingTrainer> logger,
    IOptions<FeatureSpaceOptions>? features = null,
    ITeacher? teacher = null) : BackgroundService, IStatsContributor
{
    // Version 0 reads the configured features; a resumed checkpoint reads those it was trained with.
    private readonly FeatureSchema _configured = SchemaOf(features);
    private readonly List<LabelledRequest> _backlog = [];
    private readonly BinaryMetrics _served = new();
    private readonly Lock _statsLock = new();
    private readonly SemaphoreSlim _collecting = new(1, 1);
    private readonly ModelPublisher _store = new(state, publisher, options, clock);
    private readonly ColdStartCalibration _calibration = new(); // labels trained on by this process, for the cold-start rate
    private RankingLearner _learner = Start(RankingModel.CreateInitial(features: SchemaOf(features)), RankingModel.CreateInitial(features: SchemaOf(features)), options.Value, teacher);
    private RankingModel _serving = RankingModel.CreateInitial(features: SchemaOf(features)); // the serving version's weights, for its predictions
    private long _publishedVersion;
    private ValidationWindow _window = new();
    private bool _differsFromServing;
    private long _trainedExamples;
    private long _untrainedExamples;
    private long _windows;
    private long _rejected;
    private double _lastCandidateNe = double.NaN;
    private double _lastServingNe = double.NaN;
    private double _lastSmallNe = double.NaN;
    private long _shedExamples;
    private DateTimeOffset? _windowStart; // event time of the last example before the current window
    private DateTimeOffset? _newestTrained; // newest event time trained on
    private long _publishedExamples;
    private DateTimeOffset? _publishedAt;
    private DateTimeOffset? _publishedEventTime;

    /// <summary>Version of the last model this trainer published (or resumed from).</summary>
    public long PublishedVersion => Interlocked.Read(ref _publishedVersion);

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
    /// Takes the labelled requests due now, scores the served predictions, trains on them batch by batch and closes full
    /// windows. One collection runs at a time, so a caller other than the loop (a test, a shutdown) can take a turn safely.
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
        var due = joiner.CollectLabelled();
        lock (_statsLock)
        {
            foreach (var request in due)
            {
                for (var i = 0; i < request.Count; i++)
                {
                    _served.Add((float)request.ServedScores[i], request.Labels[i]);
                }
            }
        }

        var o = options.Value;
        if (!o.Train)
        {
            // Labelled and counted as served above, then dropped: nothing trains, so nothing is judged or published.
            Interlocked.Add(ref _untrainedExamples, due.Sum(r => (long)r.Count));
            return;
        }

        // What a failed publish leaves untrained waits here for the next collection.
        _backlog.AddRange(due);
        Shed(o.MaxBacklogExamples);
        while (_backlog.Count > 0)
        {
            // A batch ends where the window fills, so that each window holds what it says; in a fresh trainer's first
            // window, batches of a quarter of it, so that calibration has labels before most of its predictions.
            var fresh = PublishedVersion == 0;
            var target = fresh ? o.FirstPublishExamples : o.ValidationWindow;
            var room = target - _window.Examples;
            var cap = fresh && o.CalibrateColdStart ? Math.Max(1, o.FirstPublishExamples / 4) : int.MaxValue;
            int take = 0, examples = 0;
            while (take < _backlog.Count && take < o.BatchRequests && examples < room && examples < cap)
            {
                examples += _backlog[take++].Count;
            }

            var batch = _backlog.GetRange(0, take);
            _backlog.RemoveRange(0, take);
            await OffPool.RunAsync(() => Step(batch));
            var span = _newestTrained - _windowStart ?? TimeSpan.Zero;
            if (_window.IsDue(target, o.MinValidationExamples, span, o.ValidationWindowTime))
            {
                await CloseWindowAsync(cancellationToken);
            }
        }
    }

    /// <summary>Drops the oldest waiting requests beyond <paramref name="max"/> examples, counted and logged.</summary>
    private void Shed(int max)
    {
        var waiting = _backlog.Sum(r => (long)r.Count);
        if (waiting <= max)
        {
            return;
        }

        long shed = 0;
        var requests = 0;
        while (requests < _backlog.Count && waiting - shed > max)
        {
            shed += _backlog[requests++].Count;
        }

        _backlog.RemoveRange(0, requests);
        Interlocked.Add(ref _shedExamples, shed);
        logger.LogWarning(
            "Training is slower than labels arrive: {Waiting} labelled examples waiting, over MaxBacklogExamples {Max}; shed the oldest {Shed} ({Requests} requests) untrained",
            waiting, max, shed, requests);
    }

    /// <summary>Predicts the batch with the serving version and the model being trained, then trains on it.</summary>
    private void Step(IReadOnlyList<LabelledRequest> batch)
    {
        var labels = new float[batch.Sum(r => r.Count)];
        var n = 0;
        foreach (var request in batch)
        {
            request.Labels.CopyTo(labels, n);
            n += request.Count;
        }

        var inputs = batch.Select(r => r.Input).ToList();
        var learner = _learner;
        var encoded = learner.Model.Encode(inputs, labels);
        var serving = learner.Predict(_serving, _serving.Features.Equals(encoded.Schema) ? encoded : _serving.Encode(inputs, labels), Tiers.Large)[0];
        if (options.Value.CalibrateColdStart && PublishedVersion == 0 && _calibration.Calibrate(learner, encoded))
        {
            _differsFromServing = true;
        }

        var informative = _differsFromServing;
        var step = learner.Step(encoded).Published;
        _differsFromServing = true;
        _window.Add(step[learner.Large], learner.Small is { } small ? step[small] : null, serving, labels, informative);
        Interlocked.Exchange(ref _trainedExamples, learner.TrainedExamples);
        _calibration.Observe(labels);
        var oldest = batch.Min(r => r.OccurredAt);
        var newest = batch.Max(r => r.OccurredAt);
        lock (_statsLock)
        {
            _windowStart ??= oldest;
            _newestTrained = _newestTrained is { } before && before > newest ? before : newest;
        }
    }

    private async Task CloseWindowAsync(CancellationToken cancellationToken)
    {
        var window = _window;
        _window = new ValidationWindow();
        _windowStart = _newestTrained;
        Interlocked.Increment(ref _windows);
        var verdict = window.Verdict();
        lock (_statsLock)
        {
            _lastCandidateNe = verdict.CandidateNe;
            _lastServingNe = verdict.ServingNe;
            _lastSmallNe = verdict.SmallNe;
        }

        if (verdict.Publish)
        {
            await PublishAsync(window, verdict, cancellationToken);
        }
        else
        {
            Interlocked.Increment(ref _rejected);
        }
    }

    private async Task PublishAsync(ValidationWindow window, WindowVerdict verdict, CancellationToken cancellationToken)
    {
        var version = PublishedVersion + 1;
        var examples = _learner.TrainedExamples;
        var model = _learner.Published;
        var (checkpoint, now) = await _store.PublishAsync(model, version, examples, verdict, window.Candidate.Auc, cancellationToken);

        // The serving version's weights are a frozen copy: the weights being trained move on.
        _serving = await OffPool.RunAsync(() => Freeze(model, _serving, checkpoint));
        lock (_statsLock)
        {
            (_publishedExamples, _publishedAt, _publishedEventTime) = (examples, now, _newestTrained);
        }

        Interlocked.Exchange(ref _publishedVersion, version);
        _differsFromServing = false;
        logger.LogInformation("Published ranking model v{Version}: NE {Ne:F4} vs {PreviousNe:F4} serving, {Examples} examples", version, verdict.CandidateNe, verdict.ServingNe, examples);
    }

    /// <summary>Continues from the latest published checkpoint, so a restart does not begin cold.</summary>
    private async Task ResumeAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (await _store.LatestAsync(cancellationToken) is not { } stored)
            {
                return;
            }

            var checkpoint = stored.Checkpoint;
            var (model, average, serving) = await OffPool.RunAsync(() =>
                (RankingModel.FromCheckpoint(checkpoint), RankingModel.FromCheckpoint(checkpoint), RankingModel.FromCheckpoint(checkpoint)));
            _learner = Start(model, average, options.Value, teacher);
            Interlocked.Exchange(ref _trainedExamples, _learner.TrainedExamples);
            _serving = serving;
            lock (_statsLock)
            {
                (_publishedExamples, _publishedAt) = (stored.TrainedExamples, stored.CreatedAt);
            }

            Interlocked.Exchange(ref _publishedVersion, model.Version);
            logger.LogInformation("Resumed training from model v{Version}", model.Version);
            if (!model.Features.Equals(_configured))
            {
                logger.LogWarning(
                    "Model v{Version} was trained with other features ({ModelFeatures}) than those configured ({ConfiguredFeatures}); training goes on with the model's",
                    model.Version,
                    model.Features,
                    _configured);
            }
        }
        catch (Exception e) when (e is StateStoreException or CheckpointException or HttpRequestException)
        {
            logger.LogWarning(e, "Could not resume from the latest checkpoint; training from scratch");
        }
    }

    /// <summary>
    /// A copy of <paramref name="model"/>'s weights: into <paramref name="into"/>'s tensors when the two have the same
    /// parameters (always, unless a resumed checkpoint changed the architecture), else rebuilt from the checkpoint.
    /// </summary>
    private static RankingModel Freeze(RankingModel model, RankingModel into, byte[] checkpoint)
    {
        var source = model.Parameters.ToList();
        var target = into.Parameters.ToList();
        if (source.Count != target.Count || source.Zip(target).Any(p => p.First.Name != p.Second.Name || p.First.Value.Length != p.Second.Value.Length))
        {
            return RankingModel.FromCheckpoint(checkpoint);
        }

        foreach (var (from, to) in source.Zip(target))
        {
            from.Value.Span.CopyTo(to.Value.Span);
        }

        return into;
    }

    /// <summary>The learner the options describe: learning rates (null: the model library's), GEMM threads, the average's decay.</summary>
    private static RankingLearner Start(RankingModel model, RankingModel copy, TrainerOptions options, ITeacher? teacher)
    {
        var settings = new TrainingSettings { GemmThreads = options.GemmThreads };
        if (options.DenseLearningRate is { } dense)
        {
            settings = settings with { DenseLearningRate = (float)dense };
        }

        if (options.SparseLearningRate is { } sparse)
        {
            settings = settings with { SparseLearningRate = (float)sparse };
        }

        var rehearsal = options.RehearsalPasses > 0 ? new Rehearsal(options.RehearsalPasses, options.RehearsalBatches) : null;
        return RankingLearner.Start(model, copy, settings, options.WeightAverageDecay, teacher, rehearsal);
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
                train = options.Value.Train,
                publishedVersion = PublishedVersion,
                trainedExamples = Interlocked.Read(ref _trainedExamples),
                untrainedExamples = Interlocked.Read(ref _untrainedExamples),
                windows = Interlocked.Read(ref _windows),
                rejectedWindows = Interlocked.Read(ref _rejected),
                lastCandidateNe = Finite(_lastCandidateNe),
                lastServingNe = Finite(_lastServingNe),
                lastSmallNe = Finite(_lastSmallNe),
                pendingLabels = joiner.PendingCount,
                lateClicks = joiner.LateClicks,
                explicitNegatives = joiner.ExplicitNegatives,
                conversions = joiner.Conversions,
                clicks = (long)Math.Round(_served.BaseRate * _served.Weight),
                shedExamples = Interlocked.Read(ref _shedExamples),
                rehearsedExamples = _learner.RehearsedExamples,
                watermark = joiner.Watermark == DateTimeOffset.MinValue ? (DateTimeOffset?)null : joiner.Watermark,
                calibrating = options.Value.CalibrateColdStart && PublishedVersion == 0,
                // How far the weights being trained are ahead of the last version published: slow publishing shows here.
                sincePublish = new
                {
                    examples = Interlocked.Read(ref _trainedExamples) - _publishedExamples,
                    seconds = _publishedAt is { } at ? Math.Round((clock.GetUtcNow() - at).TotalSeconds, 3) : (double?)null,
                    eventSeconds = _newestTrained - _publishedEventTime is { } behind ? Math.Round(behind.TotalSeconds, 3) : (double?)null,
                },
            };
        }
    }

    /// <summary>
    /// NE of always predicting the observed click rate p: its mean log loss is H(p), the very denominator of NE,
    /// so it is exactly 1 once both labels occur. Reported so a reader can compare without knowing that.
    /// </summary>
    private static double? BaseRateNe(BinaryMetrics served) => served.BaseRate is > 0 and < 1 ? 1.0 : null;

    private static double? Finite(double value) => double.IsFinite(value) ? value : null;

    private static FeatureSchema SchemaOf(IOptions<FeatureSpaceOptions>? features) => features is null ? FeatureSchema.Empty : FeatureSchema.From(features.Value);
}
