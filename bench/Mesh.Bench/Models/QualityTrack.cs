using Mesh.Learning.Metrics;

namespace Mesh.Bench.Models;

/// <summary>
/// Progressive-validation metrics of one predictor over a stream of <paramref name="impressions"/> labels, kept four
/// ways: per window (the learning curve), over the whole stream, over its second half (once models have warmed up), and
/// over the second half per user-exposure segment (<see cref="SegmentEdges"/>).
/// </summary>
public sealed class QualityTrack(long impressions, int windows = 10)
{
    /// <summary>
    /// Lower bounds of the user-exposure segments: how many impressions the stream had shown the impression's user
    /// before its request. A model can only learn what is particular to a user from that user's impressions.
    /// </summary>
    public static readonly IReadOnlyList<int> SegmentEdges = [0, 100, 1_000, 10_000];

    private readonly long _half = impressions / 2;

    public ProgressiveValidation Progressive { get; } = new((int)Math.Max(1, (impressions + windows - 1) / windows));

    public BinaryMetrics Whole => Progressive.Total;

    /// <summary>Labels from position ⌊impressions / 2⌋ on.</summary>
    public BinaryMetrics SecondHalf { get; } = new();

    /// <summary>The second half per segment of <see cref="SegmentEdges"/>.</summary>
    public IReadOnlyList<BinaryMetrics> Segments { get; } = [.. SegmentEdges.Select(_ => new BinaryMetrics())];

    /// <summary>
    /// Adds predictions made before their labels were learned from; <paramref name="first"/> is the stream position of
    /// the first, <paramref name="segments"/> (empty: none) the user-exposure segment of each.
    /// </summary>
    public void Add(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels, long first, ReadOnlySpan<byte> segments = default)
    {
        Progressive.Add(predictions, labels);
        var skip = (int)Math.Clamp(_half - first, 0, predictions.Length);
        SecondHalf.Add(predictions[skip..], labels[skip..]);
        for (var i = skip; i < segments.Length; i++)
        {
            Segments[segments[i]].Add(predictions[i], labels[i]);
        }
    }

    /// <summary>The segment of a user who had been shown <paramref name="impressions"/> impressions before.</summary>
    public static byte Segment(long impressions)
    {
        var segment = 0;
        while (segment + 1 < SegmentEdges.Count && impressions >= SegmentEdges[segment + 1])
        {
            segment++;
        }

        return (byte)segment;
    }

    /// <summary>
    /// Share of the base rate's distance to the optimum that a model covers:
    /// (NE_base − NE_model) / (NE_base − NE_optimal). 1 is the optimum, 0 the base rate, negative worse than it.
    /// </summary>
    public static double GapClosed(double baseNe, double modelNe, double optimalNe) => (baseNe - modelNe) / (baseNe - optimalNe);
}
