using Mesh.Learning.Metrics;

namespace Mesh.World;

/// <summary>
/// A snapshot of normalized entropy (computed by <see cref="BinaryMetrics"/>): the count, the clicks and the summed log
/// loss (natural log), from which NE = mean log loss / entropy of the click rate (lower is better; 1 is the base rate).
/// </summary>
public readonly record struct Ne(long Count, long Positives, double LogLossSum)
{
    /// <summary>Observed click rate; NaN when empty.</summary>
    public double Ctr => Count == 0 ? double.NaN : (double)Positives / Count;

    public double MeanLogLoss => Count == 0 ? double.NaN : LogLossSum / Count;

    /// <summary>Entropy of the observed click rate, H(ctr), in nats: the mean log loss of always predicting it.</summary>
    public double BaseEntropy => Count == 0 ? double.NaN : BinaryMetrics.Entropy(Ctr);

    /// <summary>Normalized entropy; NaN until both labels have been seen (the base entropy is then 0).</summary>
    public double Value => BaseEntropy > 0 ? MeanLogLoss / BaseEntropy : double.NaN;

    /// <summary>The snapshot of <paramref name="metrics"/>, whose examples all have weight 1 and labels 0 or 1.</summary>
    public static Ne Of(BinaryMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(metrics);
        return metrics.Examples == 0
            ? default
            : new Ne(metrics.Examples, (long)Math.Round(metrics.BaseRate * metrics.Weight), metrics.LogLoss * metrics.Weight);
    }

    /// <summary>What predicting the observed rate for every one of the labels would score: NE 1 by definition.</summary>
    public static Ne BaseRate(long count, long positives) =>
        count == 0 ? default : new Ne(count, positives, count * BinaryMetrics.Entropy((double)positives / count));

    /// <summary>The examples of <paramref name="total"/> added after the snapshot <paramref name="earlier"/> of the same metrics: a window's NE.</summary>
    public static Ne operator -(Ne total, Ne earlier) =>
        new(total.Count - earlier.Count, total.Positives - earlier.Positives, total.LogLossSum - earlier.LogLossSum);

    public override string ToString() => FormattableString.Invariant($"NE {Value:F4} over {Count} ({Positives} positive, CTR {Ctr:P2})");
}
