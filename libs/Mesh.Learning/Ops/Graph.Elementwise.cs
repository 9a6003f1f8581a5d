using System.Buffers;
using System.Numerics.Tensors;

namespace Mesh.Learning;

public sealed partial class Graph
{
    /// <summary>
    /// <c>a + b</c>: same shapes, or b of shape (D) added to every row of a (..., D).
    /// </summary>
    public Tensor Add(Tensor a, Tensor b)
    {
        var broadcast = a.Shape != b.Shape;
        if (broadcast && (b.Shape.Rank != 1 || b.Length != a.Shape.Last))
        {
            throw new ArgumentException($"add: {a.Shape} and {b.Shape} are neither equal nor (..., D) and (D)");
        }

        var y = Output(a.Shape, Tracks(a, b));
        if (broadcast)
        {
            for (var i = 0; i < a.Shape.Rows; i++)
            {
                TensorPrimitives.Add(a.Row(i), b.Span, y.Row(i));
            }
        }
        else
        {
            TensorPrimitives.Add(a.Span, b.Span, y.Span);
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (a, b, y, broadcast) = s;
                var dy = y.Grad!;
                if (a.Grad is not null)
                {
                    TensorPrimitives.Add(a.Grad.Span, dy.Span, a.Grad.Span);
                }

                if (b.Grad is not null && !broadcast)
                {
                    TensorPrimitives.Add(b.Grad.Span, dy.Span, b.Grad.Span);
                }
                else if (b.Grad is not null)
                {
                    for (var i = 0; i < dy.Shape.Rows; i++)
                    {
                        TensorPrimitives.Add(b.Grad.Span, dy.Row(i), b.Grad.Span);
                    }
                }
            }, (a, b, y, broadcast));
        }

        return y;
    }

    /// <summary><c>a ⊙ b</c>, element-wise; same shapes.</summary>
    public Tensor Mul(Tensor a, Tensor b)
    {
        SameShape("mul", a, b);
        var y = Output(a.Shape, Tracks(a, b));
        TensorPrimitives.Multiply(a.Span, b.Span, y.Span);
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (a, b, y) = s;
                var dy = y.Grad!.Span;
                if (a.Grad is not null)
                {
                    TensorPrimitives.FusedMultiplyAdd(dy, b.Span, a.Grad.Span, a.Grad.Span);
                }

                if (b.Grad is not null)
                {
                    TensorPrimitives.FusedMultiplyAdd(dy, a.Span, b.Grad.Span, b.Grad.Span);
                }
            }, (a, b, y));
        }

        return y;
    }

    /// <summary><c>factor · x</c>.</summary>
    public Tensor Scale(Tensor x, float factor)
    {
        var y = Output(x.Shape, Tracks(x));
        TensorPrimitives.Multiply(x.Span, factor, y.Span);
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y, factor) = s;
                TensorPrimitives.MultiplyAdd(y.Grad!.Span, factor, x.Grad!.Span, x.Grad.Span);
            }, (x, y, factor));
        }

        return y;
    }

    /// <summary><c>max(x, 0)</c>; the gradient at exactly 0 is taken as 0.</summary>
    public Tensor Relu(Tensor x)
    {
        var y = Output(x.Shape, Tracks(x));
        TensorPrimitives.Max(x.Span, 0f, y.Span);
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y) = s;
                ReadOnlySpan<float> xs = x.Span, dy = y.Grad!.Span;
                var dx = x.Grad!.Span;
                for (var i = 0; i < dx.Length; i++)
                {
                    if (xs[i] > 0)
                    {
                        dx[i] += dy[i];
                    }
                }
            }, (x, y));
        }

        return y;
    }

    // GELU, tanh approximation (as in GPT-2 and llm.c): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
    private const float GeluC = 0.7978845608028654f;
    private const float GeluA = 0.044715f;

    /// <summary>GELU in its tanh approximation, <c>0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))</c>.</summary>
    public Tensor Gelu(Tensor x)
    {
        var y = Output(x.Shape, Tracks(x));
        GeluTanh(x.Span, y.Span);
        TensorPrimitives.AddMultiply(y.Span, 1f, x.Span, y.Span);
        TensorPrimitives.Multiply(y.Span, 0.5f, y.Span);
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y) = s;
                var buffer = ArrayPool<float>.Shared.Rent(x.Length);
                var t = buffer.AsSpan(0, x.Length);
                GeluTanh(x.Span, t);
                ReadOnlySpan<float> xs = x.Span, dy = y.Grad!.Span;
                var dx = x.Grad!.Span;
                for (var i = 0; i < xs.Length; i++)
                {
                    var v = xs[i];
                    var dt = GeluC * (1f + 3f * GeluA * v * v);
                    dx[i] += dy[i] * (0.5f * (1f + t[i]) + 0.5f * v * (1f - t[i] * t[i]) * dt);
                }

                ArrayPool<float>.Shared.Return(buffer);
            }, (x, y));
        }

        return y;
    }

    // t = tanh(√(2/π) (x + 0.044715 x³)) = tanh(x · (c + c·a·x²)), vectorised in place in t.
    private static void GeluTanh(ReadOnlySpan<float> x, Span<float> t)
    {
        TensorPrimitives.Multiply(x, x, t);
        TensorPrimitives.Multiply(t, GeluC * GeluA, t);
        TensorPrimitives.Add(t, GeluC, t);
        TensorPrimitives.Multiply(t, x, t);
        TensorPrimitives.Tanh(t, t);
    }

    /// <summary><c>1 / (1 + exp(-x))</c>.</summary>
    public Tensor Sigmoid(Tensor x)
    {
        var y = Output(x.Shape, Tracks(x));
        TensorPrimitives.Sigmoid(x.Span, y.Span);
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y) = s;
                ReadOnlySpan<float> ys = y.Span, dy = y.Grad!.Span;
                var dx = x.Grad!.Span;
                for (var i = 0; i < ys.Length; i++)
                {
                    dx[i] += dy[i] * ys[i] * (1f - ys[i]);
                }
            }, (x, y));
        }

        return y;
    }

    /// <summary><c>tanh(x)</c>.</summary>
    public Tensor Tanh(Tensor x)
    {
        var y = Output(x.Shape, Tracks(x));
        TensorPrimitives.Tanh(x.Span, y.Span);
        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y) = s;
                ReadOnlySpan<float> ys = y.Span, dy = y.Grad!.Span;
                var dx = x.Grad!.Span;
                for (var i = 0; i < ys.Length; i++)
                {
                    dx[i] += dy[i] * (1f - ys[i] * ys[i]);
                }
            }, (x, y));
        }

        return y;
    }

    private static void SameShape(string op, Tensor a, Tensor b)
    {
        if (a.Shape != b.Shape)
        {
            throw new ArgumentException($"{op}: shapes {a.Shape} and {b.Shape} differ");
        }
    }
}
