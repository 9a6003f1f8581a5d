using System.ComponentModel.DataAnnotations;

namespace Mesh.Trainer;

/// <summary>Settings of the trainer (section <c>Trainer</c>).</summary>
public sealed class TrainerOptions
{
    /// <summary>
    /// Whether the trainer trains. Off, it still consumes <c>impressions</c> and <c>feedback</c>, joins labels and reports
    /// the served NE in <c>/v1/stats</c>, but drops the labelled requests instead of training on them: no training
    /// step, no validation window, nothing saved to the model store or published on <c>model-published</c>, so the
    /// version serving stays. For measuring serving without training's CPU on the same machine (<c>bench/run.sh
    /// load</c>), or a replica that only serves. Default true.
    /// </summary>
    public bool Train { get; set; } = true;

    /// <summary>
    /// How long after a request (event time: its <c>occurredAt</c>) feedback still counts; an impression with none by
    /// then is a negative. Also how long the trainer waits, on the clock, with no event arriving before it moves the
    /// event-time watermark on by the silence (the idle flush that closes live traffic's last windows). Default 10 s.
    /// </summary>
    public TimeSpan LabelWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Publish cadence by evidence, in labelled examples: a progressive-validation window (every example predicted
    /// before it is trained on) decides, publish or not, once it holds this many, or earlier on
    /// <see cref="ValidationWindowTime"/>; the next window starts after each decision. Every publish saves and reloads
    /// the whole model (tens of megabytes), so this also bounds how often that happens. Default 2,000.
    /// </summary>
    [Range(10, 10_000_000)]
    public int ValidationWindow { get; set; } = 2000;

    /// <summary>
    /// Publish cadence by time: a window also decides once its examples span this much event time (the newest
    /// example's <c>occurredAt</c> minus that of the last example before the window), provided it holds at least
    /// <see cref="MinValidationExamples"/>. Whichever of this and <see cref="ValidationWindow"/> comes first. Default 1 minute.
    /// </summary>
    public TimeSpan ValidationWindowTime { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Fewest labelled examples a window decides on when <see cref="ValidationWindowTime"/> ends it. Default 500.</summary>
    [Range(10, 10_000_000)]
    public int MinValidationExamples { get; set; } = 500;

    /// <summary>
    /// The first window of a trainer that has published nothing yet (no checkpoint to resume) decides after this many
    /// labelled examples, so that a new mesh serves the observed click rate early. Its batches hold at most a quarter
    /// of it, so that cold-start calibration (<see cref="CalibrateColdStart"/>) has labels before most of the window's
    /// predictions. Default 400.
    /// </summary>
    [Range(10, 10_000_000)]
    public int FirstPublishExamples { get; set; } = 400;

    /// <summary>
    /// Cold start: until its first publish, before predicting each batch, the trainer shifts the output head biases of
    /// every tier (exit heads included) so that the mean prediction on the batch equals the click rate observed so far
    /// (labels of earlier batches only, with a Jeffreys prior of half a click in one example), in the weights being
    /// trained and in their average alike. A new mesh thus serves the base rate of its own traffic from its first
    /// version instead of the model library's prior. Default true.
    /// </summary>
    public bool CalibrateColdStart { get; set; } = true;

    /// <summary>
    /// Most labelled examples waiting to be trained on. When a collection finds more (training is slower than labels
    /// arrive), it sheds the oldest requests beyond the bound, counts them (<c>trainer.shedExamples</c> in
    /// <c>/v1/stats</c>) and logs why; their served predictions still count in <c>servedNe</c>. Default 200,000.
    /// </summary>
    [Range(100, 100_000_000)]
    public int MaxBacklogExamples { get; set; } = 200_000;

    /// <summary>How often labels that left their window are collected and trained on. Default 1 s.</summary>
    public TimeSpan CollectInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most requests (each with its served impressions) per training step. Default 64.</summary>
    [Range(1, 10_000)]
    public int BatchRequests { get; set; } = 64;

    /// <summary>Adam's step for dense weights; null: the model library's default.</summary>
    [Range(1e-7, 1)]
    public double? DenseLearningRate { get; set; }

    /// <summary>Row-wise Adagrad's step for embedding tables; null: the model library's default.</summary>
    [Range(1e-6, 10)]
    public double? SparseLearningRate { get; set; }

    /// <summary>
    /// Share of the weight average kept per training step (<see cref="Mesh.Learning.Optim.WeightAverage"/>); the average
    /// is what the validation window judges and what is published. 0 publishes the raw weights. Default 0.99: on the
    /// synthetic world (bench/run.sh quality --average), DHEN large's raw snapshot predicted 22% too few clicks on the
    /// requests after the stream, its average 2% too many, and closed 5.6 points more of the NE gap there.
    /// </summary>
    [Range(0, 0.9999)]
    public double WeightAverageDecay { get; set; } = 0.99;

    /// <summary>
    /// Steps on earlier batches after each new one (<see cref="Mesh.Models.Training.Rehearsal"/>), drawn from the last
    /// <see cref="RehearsalBatches"/>; each costs a step. Default 0: one pass over the stream.
    /// </summary>
    [Range(0, 16)]
    public int RehearsalPasses { get; set; }

    /// <summary>Batches kept for <see cref="RehearsalPasses"/> to draw from, the newest. Default 100.</summary>
    [Range(1, 100_000)]
    public int RehearsalBatches { get; set; } = 100;

    /// <summary>Threads per GEMM in training; 0 is every core. Default 1, leaving the other cores to serving.</summary>
    [Range(0, 256)]
    public int GemmThreads { get; set; } = 1;

    /// <summary>Checkpoints kept in the model store besides the latest. Default 3.</summary>
    [Range(0, 100)]
    public int KeepCheckpoints { get; set; } = 3;
}
