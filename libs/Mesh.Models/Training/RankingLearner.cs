using Mesh.Learning;
using Mesh.Learning.Checkpoints;
using Mesh.Learning.Optim;
using Mesh.Models.Features;

namespace Mesh.Models.Training;

/// <summary>
/// The model being trained, its <see cref="RankingTrainer"/>, and what is published of it: the running average of its
/// weights (a second model of the same architecture) or, without averaging, the model itself. One
/// <see cref="Step"/> is the training step the trainer service takes and the quality benchmark measures, so that the
/// benchmark's figures are those of what the trainer publishes. Not thread-safe: one caller at a time.
/// </summary>
public sealed class RankingLearner
{
    private readonly ITeacher? _teacher;
    private readonly Graph _evaluation;
    private readonly Rehearsal? _rehearsal;
    private readonly List<RankingBatch> _rehearsed = [];
    private readonly Random _pick;
    private long _rehearsedExamples;

    private RankingLearner(RankingModel model, RankingTrainer trainer, RankingModel published, WeightAverage? averaging, int gemmThreads, ITeacher? teacher, Rehearsal? rehearsal)
    {
        _rehearsal = rehearsal is { Passes: > 0 } ? rehearsal : null;
        _pick = new Random(rehearsal?.Seed ?? 1);
        Model = model;
        Trainer = trainer;
        Published = published;
        Averaging = averaging;
        _teacher = teacher;
        _evaluation = new Graph(training: false) { GemmThreads = gemmThreads };
        Tiers = [.. model.Tiers.Keys]; // the order RankingTrainer.For steps them in
        Large = Tiers.ToList().IndexOf(Contracts.Tiers.Large) is >= 0 and var large ? large : throw new CheckpointException($"the model has no '{Contracts.Tiers.Large}' tier");
        Small = Tiers.ToList().IndexOf(Contracts.Tiers.Small) is >= 0 and var small ? small : null;
    }

    /// <summary>The weights being trained.</summary>
    public RankingModel Model { get; }

    public RankingTrainer Trainer { get; }

    /// <summary>What is judged and published: the weight average, or <see cref="Model"/> itself without averaging.</summary>
    public RankingModel Published { get; }

    /// <summary>The running average of the weights; null without averaging.</summary>
    public WeightAverage? Averaging { get; }

    /// <summary>The model's tiers, in the order of <see cref="LearnerStep"/>'s arrays.</summary>
    public IReadOnlyList<string> Tiers { get; }

    /// <summary>Index of the large tier in <see cref="Tiers"/>.</summary>
    public int Large { get; }

    /// <summary>Index of the small tier in <see cref="Tiers"/>; null when the model has none.</summary>
    public int? Small { get; }

    /// <summary>Labelled examples behind the weights: the checkpoint's, and this learner's (each counted once, however often rehearsed).</summary>
    public long TrainedExamples => Model.TrainedExamples + Trainer.Examples - _rehearsedExamples;

    /// <summary>Steps taken again on earlier batches (<see cref="Rehearsal"/>), in examples.</summary>
    public long RehearsedExamples => _rehearsedExamples;

    /// <param name="model">Where training starts.</param>
    /// <param name="copy">A model of the same architecture to hold the weight average; its weights are overwritten.</param>
    /// <param name="settings">Learning rates and GEMM threads (the evaluation passes use the same threads).</param>
    /// <param name="weightAverageDecay">
    /// Share of the average kept per step, in [0, 1); 0 publishes the raw weights (and <paramref name="copy"/> is unused).
    /// </param>
    /// <param name="teacher">
    /// Where a foundation model plugs in (issue 12): sees each batch before the students' step and returns the batch
    /// they train on. Null: none, the students train on the labels alone.
    /// </param>
    /// <param name="rehearsal">Steps on earlier batches after each new one; null: none, one pass over the stream.</param>
    public static RankingLearner Start(RankingModel model, RankingModel copy, TrainingSettings settings, double weightAverageDecay, ITeacher? teacher = null, Rehearsal? rehearsal = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(copy);
        ArgumentNullException.ThrowIfNull(settings);
        var trainer = RankingTrainer.For(model, settings);
        return weightAverageDecay > 0
            ? new RankingLearner(model, trainer, copy, new WeightAverage([.. model.Parameters], [.. copy.Parameters], (float)weightAverageDecay), settings.GemmThreads, teacher, rehearsal)
            : new RankingLearner(model, trainer, model, null, settings.GemmThreads, teacher, rehearsal);
    }

    /// <summary>
    /// One training step on a labelled batch (encoded for <see cref="Model"/>): the published weights predict it first
    /// (the progressive-validation scores: the batch is unseen), then the weights learn from it and the average follows.
    /// </summary>
    public LearnerStep Step(RankingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var students = _teacher is { } teacher ? teacher.Teach(batch) : batch;
        LearnerStep step;
        if (Averaging is { } averaging)
        {
            // The average predicts before the step, as the raw weights' own predictions are made before it.
            var published = Predict(Published, students, [.. Tiers]);
            var raw = Trainer.Step(students);
            averaging.Update();
            step = new LearnerStep(published, raw);
        }
        else
        {
            var predictions = Trainer.Step(students);
            step = new LearnerStep(predictions, predictions);
        }

        Rehearse(students);
        return step;
    }

    /// <summary>
    /// After a new batch: <see cref="Rehearsal.Passes"/> steps on batches drawn at random from the last
    /// <see cref="Rehearsal.Batches"/> (the new one included), the average following each. Every prediction the
    /// step returned was made before any of this, so the scores stay progressive.
    /// </summary>
    private void Rehearse(RankingBatch batch)
    {
        if (_rehearsal is not { } rehearsal)
        {
            return;
        }

        // Oldest first; a hundred or so references, so dropping the first is cheap next to a step.
        _rehearsed.Add(batch);
        if (_rehearsed.Count > rehearsal.Batches)
        {
            _rehearsed.RemoveAt(0);
        }

        for (var pass = 0; pass < rehearsal.Passes; pass++)
        {
            var again = _rehearsed[_pick.Next(_rehearsed.Count)];
            Trainer.Step(again);
            Averaging?.Update();
            _rehearsedExamples += again.Candidates;
        }
    }

    /// <summary>The click probabilities (N each) of each of <paramref name="tiers"/> of <paramref name="model"/>, from one pass of its own user tower.</summary>
    public float[][] Predict(RankingModel model, RankingBatch batch, params string[] tiers)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(tiers);
        var g = _evaluation;
        g.Reset();
        var user = model.UserEmbeddings(g, batch);
        var scores = new float[tiers.Length][];
        for (var i = 0; i < tiers.Length; i++)
        {
            scores[i] = new float[batch.Candidates];
            model.Tier(tiers[i]).Score(batch, user, scores[i], g);
        }

        g.Reset();
        return scores;
    }
}

/// <summary>
/// Rehearsal (experience replay): after each new batch, <paramref name="Passes"/> more steps on batches drawn
/// uniformly from the last <paramref name="Batches"/>, so each labelled example is learnt from about
/// 1 + <paramref name="Passes"/> times instead of once. Costs that many more steps per batch; the predictions judged
/// and served stay made before each new batch is learnt.
/// </summary>
/// <param name="Passes">Steps on earlier batches per new batch; 0 turns rehearsal off.</param>
/// <param name="Batches">Batches kept to draw from, the newest; older ones are forgotten.</param>
/// <param name="Seed">Seed of the draws.</param>
public sealed record Rehearsal(int Passes, int Batches, int Seed = 1);

/// <summary>
/// A step's predictions, made before it, per tier in <see cref="RankingLearner.Tiers"/>' order: by the published
/// weights (what the validation window judges) and by the raw weights. The same arrays without averaging.
/// </summary>
public sealed record LearnerStep(float[][] Published, float[][] Raw);
