using System.Numerics.Tensors;
using Mesh.Learning.Kernels;

namespace Mesh.Learning;

public sealed partial class Graph
{
    /// <summary><c>y = x · w</c>. x: (..., D), w: (D, H) -> y: (..., H).</summary>
    public Tensor MatMul(Tensor x, Tensor w) => Linear(x, w, null);

    /// <summary><c>y = x · w + b</c>. x: (..., D), w: (D, H), b: (H) or null -> y: (..., H).</summary>
    public Tensor Linear(Tensor x, Tensor w, Tensor? b)
    {
        if (x.Shape.Rank == 0 || w.Shape.Rank != 2 || x.Shape.Last != w.Shape[0] || (b is not null && b.Length != w.Shape[1]))
        {
            throw new ArgumentException($"linear: x {x.Shape}, w {w.Shape}, b {b?.Shape.ToString() ?? "none"} do not fit (..., D) · (D, H) + (H)");
        }

        // Every leading axis of x is a batch axis: x is (n, d) row-major.
        int n = x.Shape.Rows, d = w.Shape[0], h = w.Shape[1];
        var y = Output(x.Shape.WithLast(h), Tracks(x, w, b));
        Gemm.Multiply(Transpose.No, Transpose.No, n, h, d, 1f, x.Span, d, w.Span, h, 0f, y.Span, h, GemmThreads);
        if (b is not null)
        {
            for (var i = 0; i < n; i++)
            {
                TensorPrimitives.Add(y.Row(i), b.Span, y.Row(i));
            }
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, w, b, y) = s;
                int n = x.Shape.Rows, d = w.Shape[0], h = w.Shape[1];
                var dy = y.Grad!.Span;
                if (x.Grad is not null)
                {
                    // dx (n, d) += dy (n, h) · wᵀ (h, d)
                    Gemm.Multiply(Transpose.No, Transpose.Yes, n, d, h, 1f, dy, h, w.Span, h, 1f, x.Grad.Span, d);
                }

                if (w.Grad is not null)
                {
                    // dw (d, h) += xᵀ (d, n) · dy (n, h)
                    Gemm.Multiply(Transpose.Yes, Transpose.No, d, h, n, 1f, x.Span, d, dy, h, 1f, w.Grad.Span, h);
                }

                if (b?.Grad is not null)
                {
                    for (var i = 0; i < n; i++)
                    {
                        TensorPrimitives.Add(b.Grad.Span, y.Grad.Row(i), b.Grad.Span);
                    }
                }
            }, (x, w, b, y));
        }

        return y;
    }
}
