using System.Buffers;
using System.Numerics.Tensors;

namespace Mesh.Learning;

public sealed partial class Graph
{
    /// <summary>
    /// Layer normalisation over the last axis: <c>(x - mean) / sqrt(var + eps) · gamma + beta</c>, with the biased
    /// variance. x: (..., D), gamma, beta: (D). Default <paramref name="eps"/> 1e-5.
    /// </summary>
    public Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps = 1e-5f)
    {
        var d = x.Shape.Last;
        if (gamma.Length != d || beta.Length != d)
        {
            throw new ArgumentException($"layer norm: x {x.Shape} with gamma {gamma.Shape} and beta {beta.Shape}");
        }

        var n = x.Shape.Rows;
        var y = Output(x.Shape, Tracks(x, gamma, beta));
        // Per row: mean and 1 / std, kept for the backward step.
        var stats = Scratch(2 * n);
        var st = stats.Span;
        for (var i = 0; i < n; i++)
        {
            var row = y.Row(i);
            var mean = TensorPrimitives.Sum(x.Row(i)) / d;
            TensorPrimitives.Subtract(x.Row(i), mean, row);
            var rstd = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(row) / d + eps);
            TensorPrimitives.Multiply(row, rstd, row);
            TensorPrimitives.FusedMultiplyAdd(row, gamma.Span, beta.Span, row);
            st[2 * i] = mean;
            st[2 * i + 1] = rstd;
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, gamma, beta, y, stats) = s;
                int n = x.Shape.Rows, d = x.Shape.Last;
                var buffer = ArrayPool<float>.Shared.Rent(2 * d);
                var xhat = buffer.AsSpan(0, d);
                var g = buffer.AsSpan(d, d);
                for (var i = 0; i < n; i++)
                {
                    var dy = y.Grad!.Row(i);
                    TensorPrimitives.Subtract(x.Row(i), stats.Span[2 * i], xhat);
                    TensorPrimitives.Multiply(xhat, stats.Span[2 * i + 1], xhat);
                    if (gamma.Grad is not null)
                    {
                        TensorPrimitives.FusedMultiplyAdd(dy, xhat, gamma.Grad.Span, gamma.Grad.Span);
                    }

                    if (beta.Grad is not null)
                    {
                        TensorPrimitives.Add(beta.Grad.Span, dy, beta.Grad.Span);
                    }

                    if (x.Grad is not null)
                    {
                        // dx = rstd · (g - mean(g) - xhat · mean(g ⊙ xhat)), g = dy ⊙ gamma
                        TensorPrimitives.Multiply(dy, gamma.Span, g);
                        var meanG = TensorPrimitives.Sum(g) / d;
                        var meanGx = TensorPrimitives.Dot(g, xhat) / d;
                        var rstd = stats.Span[2 * i + 1];
                        var dx = x.Grad.Row(i);
                        for (var j = 0; j < d; j++)
                        {
                            dx[j] += rstd * (g[j] - meanG - xhat[j] * meanGx);
                        }
                    }
                }

                ArrayPool<float>.Shared.Return(buffer);
            }, (x, gamma, beta, y, stats));
        }

        return y;
    }

    /// <summary>Softmax over the last axis, shifted by the row maximum so that large logits do not overflow.</summary>
    public Tensor Softmax(Tensor x)
    {
        var y = Output(x.Shape, Tracks(x));
        for (var i = 0; i < x.Shape.Rows; i++)
        {
            SoftmaxRow(x.Row(i), y.Row(i));
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y) = s;
                for (var i = 0; i < y.Shape.Rows; i++)
                {
                    SoftmaxBackwardRow(y.Row(i), y.Grad!.Row(i), x.Grad!.Row(i));
                }
            }, (x, y));
        }

        return y;
    }

    private static void SoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        var max = TensorPrimitives.Max(x);
        TensorPrimitives.Subtract(x, max, y);
        TensorPrimitives.Exp(y, y);
        TensorPrimitives.Divide(y, TensorPrimitives.Sum(y), y);
    }

    // dx += y ⊙ (dy - Σ dy ⊙ y)
    private static void SoftmaxBackwardRow(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx)
    {
        var dot = TensorPrimitives.Dot(dy, y);
        for (var j = 0; j < y.Length; j++)
        {
            dx[j] += y[j] * (dy[j] - dot);
        }
    }
}
