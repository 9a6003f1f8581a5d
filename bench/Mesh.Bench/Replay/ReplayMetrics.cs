using Mesh.Learning.Metrics;

namespace Mesh.Bench.Replay;

/// <summary>The figures of one model over one range of the stream.</summary>
/// <param name="Count">Impressions in the range.</param>
/// <param name="Clicks">Clicks in the range.</param>
/// <param name="LogLoss">Mean log loss in nats, predictions clamped to [1e-7, 1 - 1e-7].</param>
/// <param name="Ne">Normalized entropy: mean log loss over the range divided by the entropy of the range's own click rate (1: no better than knowing that rate; lower is better); NaN when the range has only one label.</param>
/// <param name="Auc">Exact ROC AUC, ties counting half; NaN with one label only.</param>
/// <param name="Calibration">Σ predicted / Σ clicked (1: calibrated); NaN without clicks.</param>
public readonly record struct RangeMetrics(long Count, long Clicks, double Ne, double Auc, double Calibration, double LogLoss);

/// <summary>NE, AUC and calibration over ranges of a replay, and NE over a rolling window (for the plot).</summary>
public static class ReplayMetrics
{
    // As BinaryMetrics: predictions are clamped so that one confident mistake costs a finite loss.
    private const double Clamp = 1e-7;

    public static RangeMetrics Of(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
    {
        var metrics = new BinaryMetrics();
        metrics.Add(predictions, labels);
        return new RangeMetrics(
            metrics.Examples, (long)Math.Round(metrics.BaseRate * metrics.Weight), metrics.NormalizedEntropy,
            BinaryMetrics.ExactAuc(predictions, labels), metrics.Calibration, metrics.LogLoss);
    }

    /// <summary>
    /// NE over the window of <paramref name="window"/> impressions ending at each of <paramref name="points"/> evenly spaced
    /// ends (the first at <paramref name="window"/>, the last at the stream's end), each against the window's own click
    /// rate; NaN for a window with one label only. Returns (end index, NE) pairs.
    /// </summary>
    public static IReadOnlyList<(int End, double Ne)> Rolling(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels, int window, int points)
    {
        var n = predictions.Length;
        if (n == 0 || window <= 0 || window > n || points <= 0)
        {
            return [];
        }

        var loss = new double[n + 1];
        var clicks = new double[n + 1];
        for (var i = 0; i < n; i++)
        {
            var p = Math.Clamp((double)predictions[i], Clamp, 1 - Clamp);
            var y = labels[i];
            loss[i + 1] = loss[i] - ((y * Math.Log(p)) + ((1 - y) * Math.Log(1 - p)));
            clicks[i + 1] = clicks[i] + y;
        }

        var result = new List<(int, double)>(points);
        var last = -1;
        for (var k = 0; k < points; k++)
        {
            var end = points == 1 ? n : window + (int)((long)(n - window) * k / (points - 1));
            if (end == last)
            {
                continue;
            }

            last = end;
            var start = end - window;
            var entropy = BinaryMetrics.Entropy((clicks[end] - clicks[start]) / window);
            result.Add((end, entropy > 0 ? (loss[end] - loss[start]) / window / entropy : double.NaN));
        }

        return result;
    }
}
