using Mesh.Learning.Metrics;

namespace Mesh.Trainer.Training;

/// <summary>
/// One progressive-validation window: each prediction made before its batch was trained on, by the candidate (the
/// weights being published: large tier, and small when there is one) and by the serving version on the same examples.
/// It also decides when it is full (<see cref="IsDue"/>) and whether it publishes (<see cref="Verdict"/>).
/// </summary>
public sealed class ValidationWindow
{
    public BinaryMetrics Candidate { get; } = new();

    public BinaryMetrics Small { get; } = new();

    public BinaryMetrics Serving { get; } = new();

    /// <summary>Some batch of the window was predicted by weights other than serving's.</summary>
    public bool Informative { get; private set; }

    public long Examples => Candidate.Examples;

    /// <param name="candidate">The candidate's large-tier probabilities (N).</param>
    /// <param name="small">The candidate's small-tier probabilities (N); null when the model has no small tier.</param>
    /// <param name="serving">The serving version's large-tier probabilities (N).</param>
    /// <param name="labels">0 or 1 (N).</param>
    /// <param name="informative">Whether the candidate's weights differed from serving's when it predicted.</param>
    public void Add(float[] candidate, float[]? small, float[] serving, float[] labels, bool informative)
    {
        Candidate.Add(candidate, labels);
        if (small is not null)
        {
            Small.Add(small, labels);
        }

        Serving.Add(serving, labels);
        Informative |= informative;
    }

    /// <summary>
    /// Whether the window decides now: once it holds <paramref name="target"/> examples, or once its examples span
    /// <paramref name="windowTime"/> of event time (<paramref name="span"/>) and number at least <paramref name="minExamples"/>.
    /// </summary>
    public bool IsDue(int target, int minExamples, TimeSpan span, TimeSpan windowTime) =>
        Examples >= target || (Examples >= minExamples && span >= windowTime);

    /// <summary>
    /// The gate: publish when the window is informative and the candidate's large-tier NE is not worse than serving's
    /// on the same examples. NaN (a window without clicks) compares false: nothing is published on a window that
    /// cannot tell.
    /// </summary>
    public WindowVerdict Verdict()
    {
        var candidateNe = Candidate.NormalizedEntropy;
        var servingNe = Serving.NormalizedEntropy;
        return new WindowVerdict(Informative && candidateNe <= servingNe, candidateNe, servingNe, Small.NormalizedEntropy);
    }
}

/// <summary>A window's decision and the NEs it rests on (NaN where undefined).</summary>
public sealed record WindowVerdict(bool Publish, double CandidateNe, double ServingNe, double SmallNe);
