namespace Mesh.World;

/// <summary>
/// Streaming normalized entropy: mean log loss of the predictions divided by the entropy of the mean label, i.e. the
/// log loss relative to always predicting the observed click rate (lower is better; 1 is the base rate). Predictions
/// are clamped to [<see cref="MinPrediction"/>, 1 - <see cref="MinPrediction"/>]. Not thread-safe.
/// </summary>
public sealed class NormalizedEntropy
{
    public const double MinPrediction = 1e-7;

    private long _count;
    private long _positives;
    private double _logLossSum;

    /// <summary>Adds one labelled prediction: <paramref name="prediction"/> is P(label = 1).</summary>
    public void Add(double prediction, bool label)
    {
        _count++;
        _positives += label ? 1 : 0;
        _logLossSum += LogLoss(prediction, label);
    }

    public Ne Snapshot() => new(_count, _positives, _logLossSum);

    /// <summary>Natural-log loss of one prediction, clamped like <see cref="Add"/>.</summary>
    public static double LogLoss(double prediction, bool label)
    {
        var p = Math.Clamp(double.IsNaN(prediction) ? 0.5 : prediction, MinPrediction, 1 - MinPrediction);
        return label ? -Math.Log(p) : -Math.Log(1 - p);
    }
}

/// <summary>A snapshot of a <see cref="NormalizedEntropy"/>: counts and the summed log loss (natural log).</summary>
public readonly record struct Ne(long Count, long Positives, double LogLossSum)
{
    /// <summary>Observed click rate; NaN when empty.</summary>
    public double Ctr => Count == 0 ? double.NaN : (double)Positives / Count;

    public double MeanLogLoss => Count == 0 ? double.NaN : LogLossSum / Count;

    /// <summary>Entropy of the observed click rate, H(ctr), in nats: the mean log loss of always predicting it.</summary>
    public double BaseEntropy => Count == 0 ? double.NaN : Entropy(Ctr);

    /// <summary>Normalized entropy; NaN until both labels have been seen (the base entropy is then 0).</summary>
    public double Value => BaseEntropy > 0 ? MeanLogLoss / BaseEntropy : double.NaN;

    /// <summary>What a <see cref="NormalizedEntropy"/> would hold had it predicted the observed rate for every one of the labels.</summary>
    public static Ne BaseRate(long count, long positives)
    {
        if (count == 0)
        {
            return default;
        }

        var rate = (double)positives / count;
        var logLoss = (positives * NormalizedEntropy.LogLoss(rate, true)) + ((count - positives) * NormalizedEntropy.LogLoss(rate, false));
        return new Ne(count, positives, logLoss);
    }

    public override string ToString() => FormattableString.Invariant($"NE {Value:F4} over {Count} ({Positives} positive, CTR {Ctr:P2})");

    private static double Entropy(double p) =>
        p <= 0 || p >= 1 ? 0 : -((p * Math.Log(p)) + ((1 - p) * Math.Log(1 - p)));
}
