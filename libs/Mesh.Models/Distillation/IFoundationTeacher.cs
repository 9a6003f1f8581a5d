using Mesh.Models.Features;

namespace Mesh.Models.Distillation;

/// <summary>A foundation model as a teacher: its click probability ŷ_F for each candidate of some requests.</summary>
public interface IFoundationTeacher
{
    /// <summary>The teacher's published version (what a joined row was predicted by).</summary>
    long Version { get; }

    /// <summary>ŷ_F of every candidate of <paramref name="requests"/>, in order, into <paramref name="probabilities"/> (N).</summary>
    void Predict(IReadOnlyList<RankingInput> requests, Span<float> probabilities);
}
