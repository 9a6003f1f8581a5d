using Mesh.Models.Features;

namespace Mesh.Models.Training;

/// <summary>
/// The seam where a foundation model's training and data augmentation plug into every training step (issue 12, ExFM):
/// the teacher sees each labelled batch before the serving students do, learns from every labelled impression, and
/// hands the students the batch they train on (the same one, or the same rows joined with its predictions). The
/// trainer service and the quality benchmark both step through <see cref="RankingLearner"/>, so a teacher plugged in
/// there reaches both.
/// </summary>
public interface ITeacher
{
    /// <summary>
    /// Trains the teacher on <paramref name="batch"/> and returns what the students train on. Whatever the teacher
    /// joins to the rows must be predicted before it learned from them, so that the students' targets carry no label
    /// of their own batch beyond the label itself.
    /// </summary>
    RankingBatch Teach(RankingBatch batch);
}
