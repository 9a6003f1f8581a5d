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

    private RankingLearner(RankingModel model, RankingTrainer trainer, RankingModel published, WeightAverage? averaging, int gemmThreads, ITeacher? teacher)
    {
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

    /// <summary>Labelled examples behind the weights: the checkpoint's, and this learner's.</summary>
    public long TrainedExamples => Model.TrainedExamples + Trainer.Examples;

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
    public static RankingLearner Start(RankingModel model, RankingModel copy, TrainingSettings settings, double weightAverageDecay, ITeacher? teacher = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(copy);
        ArgumentNullException.ThrowIfNull(settings);
        var trainer = RankingTrainer.For(model, settings);
        return weightAverageDecay > 0
            ? new RankingLearner(model, trainer, copy, new WeightAverage([.. model.Parameters], [.. copy.Parameters], (float)weightAverageDecay), settings.GemmThreads, teacher)
            : new RankingLearner(model, trainer, model, null, settings.GemmThreads, teacher);
    }

    /// <summary>
    /// One training step on a labelled batch (encoded for <see cref="Model"/>): the published weights predict it first
    /// (the progressive-validation scores: the batch is unseen), then the weights learn from it and the average follows.
    /// </summary>
    public LearnerStep Step(RankingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var students = _teacher is { } teacher ? teacher.Teach(batch) : batch;
        if (Averaging is { } averaging)
        {
            // The average predicts before the step, as the raw weights' own predictions are made before it.
            var published = Predict(Published, students, [.. Tiers]);
            var raw = Trainer.Step(students);
            averaging.Update();
            return new LearnerStep(published, raw);
        }

        var predictions = Trainer.Step(students);
        return new LearnerStep(predictions, predictions);
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
/// A step's predictions, made before it, per tier in <see cref="RankingLearner.Tiers"/>' order: by the published
/// weights (what the validation window judges) and by the raw weights. The same arrays without averaging.
/// </summary>
public sealed record LearnerStep(float[][] Published, float[][] Raw);
