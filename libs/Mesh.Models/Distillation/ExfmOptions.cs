using System.ComponentModel.DataAnnotations;

namespace Mesh.Models.Distillation;

/// <summary>How a student learns from the foundation model's prediction ŷ_F (ExFM's four ablation arms).</summary>
public enum DistillationMode
{
    /// <summary>No foundation model: clicks only, today's training step.</summary>
    None,

    /// <summary>Knowledge distillation into the serving head: h(ŷ_S, y) + w·h(ŷ_S, min(1, α·ŷ_F)).</summary>
    ServingHead,

    /// <summary>Auxiliary head (AH): h(ŷ_S, y) + w·h(ŷ_D, min(1, α·ŷ_F)), ŷ_D's gradient into the backbone times β.</summary>
    AuxiliaryHead,

    /// <summary>AH plus the student adapter (SA): the AH loss + w_SA·h(ŷ_D′, sg(σ(ŷ_SA))), ŷ_SA = MLP(ŷ_F) trained on fresh labels.</summary>
    AuxiliaryHeadWithAdapter,
}

/// <summary>
/// External distillation (ExFM) settings of a <see cref="RankingTrainer"/>. Bound from the section <c>ExfmOptions</c>
/// where a service configures it. The defaults are neutral starting points (1 for α, β, w), not tuned values:
/// docs/models.md says what was measured with them.
/// </summary>
public sealed record ExfmOptions
{
    /// <summary>Which loss the students train with. Default <see cref="DistillationMode.None"/>: clicks only.</summary>
    public DistillationMode Mode { get; init; } = DistillationMode.None;

    /// <summary>
    /// α, label scaling: the distillation target is min(1, α·ŷ_F), so a teacher whose probabilities sit near 0 on a
    /// long-tailed click rate gives targets with more spread. Default 1 (targets = ŷ_F).
    /// </summary>
    [Range(1e-6, 1e6)]
    public float LabelScale { get; init; } = 1f;

    /// <summary>
    /// β, gradient scaling: the distillation heads' gradient into the shared backbone is multiplied by β (their own
    /// weights get the unscaled gradient; the forward pass is unchanged). Default 1.
    /// </summary>
    [Range(0.0, 1e6)]
    public float BackboneGradient { get; init; } = 1f;

    /// <summary>w, the weight of the teacher's term h(·, min(1, α·ŷ_F)) in the loss. Default 1.</summary>
    [Range(0.0, 1e6)]
    public float Weight { get; init; } = 1f;

    /// <summary>w_SA, the weight of the adapter's term h(ŷ_D′, sg(σ(ŷ_SA))). Default 1 (the paper adds it unweighted).</summary>
    [Range(0.0, 1e6)]
    public float AdapterWeight { get; init; } = 1f;

    /// <summary>Hidden width of the student adapter's MLP (1 → hidden → 1, ReLU). Default 16.</summary>
    [Range(1, 4096)]
    public int AdapterHidden { get; init; } = 16;

    /// <summary>
    /// Adam's step for the adapter's weights. Default 1e-2: the adapter is a calibration of one scalar that must follow
    /// the drift of fresh labels, far smaller than a student, so it takes larger steps than the students' 3e-4.
    /// </summary>
    [Range(0.0, 1.0)]
    public float AdapterLearningRate { get; init; } = 1e-2f;

    /// <summary>Whether this mode trains distillation heads (<see cref="DistillationMode.AuxiliaryHead"/> and with adapter).</summary>
    public bool UsesAuxiliaryHeads => Mode is DistillationMode.AuxiliaryHead or DistillationMode.AuxiliaryHeadWithAdapter;

    /// <summary>The distillation target min(1, α·p) of a teacher probability p; NaN (no teacher) stays NaN.</summary>
    public float Target(float teacherProbability) => float.IsNaN(teacherProbability) ? float.NaN : Math.Min(1f, LabelScale * teacherProbability);
}
