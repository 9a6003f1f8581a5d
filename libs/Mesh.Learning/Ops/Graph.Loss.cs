using System.Numerics.Tensors;

namespace Mesh.Learning;

/// <summary>How a loss reduces over examples.</summary>
public enum Reduction
{
    /// <summary>Weighted mean: Σ w·loss / Σ w.</summary>
    Mean,

    /// <summary>Weighted sum: Σ w·loss.</summary>
    Sum,
}

public sealed partial class Graph
{
    /// <summary>
    /// Binary cross-entropy on logits with soft labels, <c>max(z, 0) - z·y + log(1 + exp(-|z|))</c> per example (stable
    /// for any z), reduced to a scalar. logits: (N) or (N, 1); targets: (N), each in [0, 1] (a teacher's probability
    /// works as well as a click); weights: (N), non-negative, or null for 1. A zero total weight gives 0. Only the logits
    /// get a gradient: <c>w · (sigmoid(z) - y)</c>, divided by Σ w for the mean.
    /// </summary>
    public Tensor BceWithLogits(Tensor logits, Tensor targets, Tensor? weights = null, Reduction reduction = Reduction.Mean)
    {
        var n = logits.Length;
        if (!(logits.Shape.Rank == 1 || (logits.Shape.Rank == 2 && logits.Shape[1] == 1)) || targets.Length != n || (weights is not null && weights.Length != n))
        {
            throw new ArgumentException($"bce: logits {logits.Shape}, targets {targets.Shape}, weights {weights?.Shape.ToString() ?? "none"}: need (N) or (N, 1) and (N)");
        }

        ReadOnlySpan<float> z = logits.Span, t = targets.Span;
        double sum = 0, totalWeight = 0;
        for (var i = 0; i < n; i++)
        {
            var w = weights is null ? 1.0 : weights.Span[i];
            sum += w * (Math.Max(z[i], 0.0) - (double)z[i] * t[i] + Math.Log(1 + Math.Exp(-Math.Abs((double)z[i]))));
            totalWeight += w;
        }

        var denominator = reduction == Reduction.Mean ? totalWeight : 1.0;
        var y = Output(new Shape(), Tracks(logits));
        y[0] = denominator > 0 ? (float)(sum / denominator) : 0f;
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (logits, targets, weights, y, denominator) = s;
                if (denominator <= 0)
                {
                    return;
                }

                var scale = y.Grad![0] / denominator;
                ReadOnlySpan<float> z = logits.Span, t = targets.Span;
                var dz = logits.Grad!.Span;
                for (var i = 0; i < z.Length; i++)
                {
                    var w = weights is null ? 1.0 : weights.Span[i];
                    dz[i] += (float)(scale * w * (1 / (1 + Math.Exp(-(double)z[i])) - t[i]));
                }
            }, (logits, targets, weights, y, denominator));
        }

        return y;
    }

    /// <summary>Sum of all elements -> scalar.</summary>
    public Tensor Sum(Tensor x) => Reduce(x, 1f);

    /// <summary>Mean of all elements -> scalar.</summary>
    public Tensor Mean(Tensor x) => Reduce(x, x.Length == 0 ? 0f : 1f / x.Length);

    private Tensor Reduce(Tensor x, float factor)
    {
        var y = Output(new Shape(), Tracks(x));
        y[0] = TensorPrimitives.Sum(x.Span) * factor;
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y, factor) = s;
                TensorPrimitives.Add(x.Grad!.Span, y.Grad![0] * factor, x.Grad.Span);
            }, (x, y, factor));
        }

        return y;
    }
}
