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

    /// <summary>How long after serving a click still counts; an impression with none by then is a negative. Default 10 s.</summary>
    public TimeSpan LabelWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Labelled examples per progressive-validation window: every example is predicted before it is trained on, and
    /// each full window decides whether the weights are published. Every publish saves and reloads the whole model
    /// (tens of megabytes), so this also bounds how often that happens. Default 2,000.
    /// </summary>
    [Range(10, 10_000_000)]
    public int ValidationWindow { get; set; } = 2000;

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

    /// <summary>Threads per GEMM in training; 0 is every core. Default 1, leaving the other cores to serving.</summary>
    [Range(0, 256)]
    public int GemmThreads { get; set; } = 1;

    /// <summary>Checkpoints kept in the model store besides the latest. Default 3.</summary>
    [Range(0, 100)]
    public int KeepCheckpoints { get; set; } = 3;
}
