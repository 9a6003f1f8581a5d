using Mesh.Models.Features;

namespace Mesh.Models.Training;

/// <summary>
/// Cold start: until a learner's first publish, the head biases of every tier (exit heads included) are shifted before
/// each batch is predicted, so that the published weights' mean prediction on the batch is the click rate observed so
/// far: the labels of earlier batches only, with a Jeffreys prior of half a click in one example. The calibration uses
/// no label of the batch it predicts, so progressive validation stays progressive.
/// </summary>
public sealed class ColdStartCalibration
{
    /// <summary>Labelled examples observed (trained on) so far.</summary>
    public long Examples { get; private set; }

    /// <summary>Clicks (sum of labels) among <see cref="Examples"/>.</summary>
    public double Clicks { get; private set; }

    /// <summary>The observed click rate with the prior; null before the first label.</summary>
    public double? Rate => Examples == 0 ? null : (Clicks + 0.5) / (Examples + 1.0);

    /// <summary>Counts a batch's labels, after it was predicted.</summary>
    public void Observe(ReadOnlySpan<float> labels)
    {
        Examples += labels.Length;
        Clicks += System.Numerics.Tensors.TensorPrimitives.Sum(labels);
    }

    /// <summary>
    /// Shifts each tier's head biases, in the published weights and the weights being trained alike, so that the
    /// published weights' mean prediction on <paramref name="batch"/> is <see cref="Rate"/>. Nothing before the first
    /// label. True when it moved.
    /// </summary>
    public bool Calibrate(RankingLearner learner, RankingBatch batch)
    {
        ArgumentNullException.ThrowIfNull(learner);
        ArgumentNullException.ThrowIfNull(batch);
        if (Rate is not { } rate)
        {
            return false;
        }

        var tiers = learner.Published.Tiers.Keys.ToArray();
        var predictions = learner.Predict(learner.Published, batch, tiers);
        var moved = false;
        for (var i = 0; i < tiers.Length; i++)
        {
            var shift = LogitShift(predictions[i], rate);
            if (shift == 0)
            {
                continue;
            }

            learner.Published.Tier(tiers[i]).ShiftOutputs(shift);
            if (!ReferenceEquals(learner.Model, learner.Published))
            {
                learner.Model.Tier(tiers[i]).ShiftOutputs(shift);
            }

            moved = true;
        }

        return moved;
    }

    /// <summary>
    /// The logit shift d that makes the mean of sigmoid(logit(p_i) + d) equal <paramref name="rate"/>: Newton's method on
    /// a function increasing in d, each step bounded to 4 logits, until a step is under 1e-6 (at most 50 steps).
    /// </summary>
    public static float LogitShift(ReadOnlySpan<float> predictions, double rate)
    {
        if (predictions.IsEmpty)
        {
            return 0;
        }

        var logits = new double[predictions.Length];
        for (var i = 0; i < logits.Length; i++)
        {
            var p = Math.Clamp(predictions[i], 1e-7, 1 - 1e-7);
            logits[i] = Math.Log(p / (1 - p));
        }

        var shift = 0.0;
        for (var iteration = 0; iteration < 50; iteration++)
        {
            double mean = 0, slope = 0;
            foreach (var z in logits)
            {
                var q = 1 / (1 + Math.Exp(-(z + shift)));
                mean += q;
                slope += q * (1 - q);
            }

            var step = Math.Clamp((rate - (mean / logits.Length)) / Math.Max(slope / logits.Length, 1e-9), -4, 4);
            shift += step;
            if (Math.Abs(step) < 1e-6)
            {
                break;
            }
        }

        return (float)shift;
    }
}
