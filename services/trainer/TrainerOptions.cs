using System.ComponentModel.DataAnnotations;

namespace Mesh.Trainer;

/// <summary>Settings of the trainer (section <c>Trainer</c>).</summary>
public sealed class TrainerOptions
{
    /// <summary>How long after serving a click still counts; an impression with none by then is a negative. Default 10 s.</summary>
    public TimeSpan LabelWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Labelled examples per progressive-validation window: each window is evaluated, then trained on. Default 2,000.</summary>
    [Range(10, 10_000_000)]
    public int ValidationWindow { get; set; } = 2000;

    /// <summary>How often labels that left their window are collected and trained on. Default 1 s.</summary>
    public TimeSpan CollectInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Adagrad step size. Default 0.05.</summary>
    [Range(1e-6, 10)]
    public double LearningRate { get; set; } = 0.05;

    /// <summary>Checkpoints kept in the model store besides the latest. Default 3.</summary>
    [Range(0, 100)]
    public int KeepCheckpoints { get; set; } = 3;
}
