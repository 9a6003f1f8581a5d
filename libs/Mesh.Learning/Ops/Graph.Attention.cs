using System.Buffers;
using Mesh.Learning.Kernels;

namespace Mesh.Learning;

public sealed partial class Graph
{
    // Below this many multiply-adds (B·H·Tq·Tk·D/H) attention runs on the calling thread: splitting costs more.
    private const long ParallelAttentionWork = 1L << 18;

    // A method of its own so that the closure is allocated only when attention goes parallel.
    private static void AttentionForwardParallel(Tensor q, Tensor k, Tensor v, Tensor? keyMask, int heads, Tensor y, Memory<float> probs, int threads)
    {
        var batch = q.Shape[0];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, part =>
            AttentionForward(q, k, v, keyMask, heads, y, probs, (int)((long)batch * part / threads), (int)((long)batch * (part + 1) / threads)));
    }

    /// <summary>The forward pass of <see cref="Attention"/> for batch entries [<paramref name="from"/>, <paramref name="to"/>), on this thread.</summary>
    private static void AttentionForward(Tensor q, Tensor k, Tensor v, Tensor? keyMask, int heads, Tensor y, Memory<float> probs, int from, int to)
    {
        int tq = q.Shape[1], tk = k.Shape[1], d = q.Shape[2], dh = d / heads;
        var scale = 1f / MathF.Sqrt(dh);
        for (var b = from; b < to; b++)
        {
            for (var h = 0; h < heads; h++)
            {
                var p = probs.Span.Slice((b * heads + h) * tq * tk, tq * tk);
                // Head h of batch entry b: a (T, dh) matrix with row stride D.
                var qh = q.Span[(b * tq * d + h * dh)..];
                var kh = k.Span[(b * tk * d + h * dh)..];
                var vh = v.Span[(b * tk * d + h * dh)..];
                Gemm.Multiply(Transpose.No, Transpose.Yes, tq, tk, dh, scale, qh, d, kh, d, 0f, p, tk, 1);
                for (var i = 0; i < tq; i++)
                {
                    MaskedSoftmaxRow(p.Slice(i * tk, tk), keyMask is null ? default : keyMask.Row(b));
                }

                Gemm.Multiply(Transpose.No, Transpose.No, tq, dh, tk, 1f, p, tk, vh, d, 0f, y.Span[(b * tq * d + h * dh)..], d, 1);
            }
        }
    }

    /// <summary>
    /// Scaled dot-product attention with <paramref name="heads"/> heads: for each batch entry and head h (the columns
    /// h·D/H .. (h+1)·D/H), <c>softmax(q kᵀ / sqrt(D/H)) v</c>. q: (B, Tq, D), k and v: (B, Tk, D) -> (B, Tq, D).
    /// Self-attention passes the same sequence's projections as q, k and v; attention pooling passes learned queries.
    /// <paramref name="keyMask"/>: (B, Tk), 1 where a key may be attended to, 0 for padding; null attends to all. A
    /// query whose keys are all padding gets a zero output (and no gradient) instead of NaN.
    /// </summary>
    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, Tensor? keyMask = null)
    {
        if (q.Shape.Rank != 3 || k.Shape.Rank != 3 || v.Shape != k.Shape || q.Shape[0] != k.Shape[0] || q.Shape[2] != k.Shape[2]
            || heads <= 0 || q.Shape[2] % heads != 0)
        {
            throw new ArgumentException($"attention: q {q.Shape}, k {k.Shape}, v {v.Shape} with {heads} heads do not fit (B, Tq, D), (B, Tk, D), D % heads == 0");
        }

        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1], d = q.Shape[2], dh = d / heads;
        if (keyMask is not null && (keyMask.Shape.Rank != 2 || keyMask.Shape[0] != batch || keyMask.Shape[1] != tk))
        {
            throw new ArgumentException($"attention: key mask {keyMask.Shape} is not (B, Tk) = ({batch}, {tk})", nameof(keyMask));
        }

        var y = Output(q.Shape, Tracks(q, k, v));
        // Attention probabilities (B, H, Tq, Tk), kept for the backward step.
        var probs = Scratch(batch * heads * tq * tk);

        // Each product is tiny (T x T x D/H), so threads split the batch entries, not the products.
        var threads = Math.Min(GemmThreads <= 0 ? Gemm.MaxThreads : GemmThreads, batch);
        if (threads > 1 && (long)batch * heads * tq * tk * dh >= ParallelAttentionWork)
        {
            AttentionForwardParallel(q, k, v, keyMask, heads, y, probs, threads);
        }
        else
        {
            AttentionForward(q, k, v, keyMask, heads, y, probs, 0, batch);
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (q, k, v, y, probs, heads) = s;
                int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1], d = q.Shape[2], dh = d / heads;
                var scale = 1f / MathF.Sqrt(dh);
                var buffer = ArrayPool<float>.Shared.Rent(tq * tk);
                var dp = buffer.AsSpan(0, tq * tk);
                for (var b = 0; b < batch; b++)
                {
                    for (var h = 0; h < heads; h++)
                    {
                        var p = probs.Span.Slice((b * heads + h) * tq * tk, tq * tk);
                        var head = h * dh;
                        var qh = q.Span[(b * tq * d + head)..];
                        var kh = k.Span[(b * tk * d + head)..];
                        var vh = v.Span[(b * tk * d + head)..];
                        var dyh = y.Grad!.Span[(b * tq * d + head)..];
                        if (v.Grad is not null)
                        {
                            // dv (Tk, dh) += pᵀ (Tk, Tq) · dy (Tq, dh)
                            Gemm.Multiply(Transpose.Yes, Transpose.No, tk, dh, tq, 1f, p, tk, dyh, d, 1f, v.Grad.Span[(b * tk * d + head)..], d);
                        }

                        if (q.Grad is null && k.Grad is null)
                        {
                            continue;
                        }

                        // dp (Tq, Tk) = dy (Tq, dh) · vᵀ (dh, Tk); then through the softmax, in place: ds = p ⊙ (dp - Σ dp ⊙ p).
                        Gemm.Multiply(Transpose.No, Transpose.Yes, tq, tk, dh, 1f, dyh, d, vh, d, 0f, dp, tk);
                        for (var i = 0; i < tq; i++)
                        {
                            var pi = p.Slice(i * tk, tk);
                            var di = dp.Slice(i * tk, tk);
                            var dot = System.Numerics.Tensors.TensorPrimitives.Dot(di, pi);
                            for (var j = 0; j < tk; j++)
                            {
                                di[j] = pi[j] * (di[j] - dot);
                            }
                        }

                        if (q.Grad is not null)
                        {
                            // dq (Tq, dh) += scale · ds (Tq, Tk) · k (Tk, dh)
                            Gemm.Multiply(Transpose.No, Transpose.No, tq, dh, tk, scale, dp, tk, kh, d, 1f, q.Grad.Span[(b * tq * d + head)..], d);
                        }

                        if (k.Grad is not null)
                        {
                            // dk (Tk, dh) += scale · dsᵀ (Tk, Tq) · q (Tq, dh)
                            Gemm.Multiply(Transpose.Yes, Transpose.No, tk, dh, tq, scale, dp, tk, qh, d, 1f, k.Grad.Span[(b * tk * d + head)..], d);
                        }
                    }
                }

                ArrayPool<float>.Shared.Return(buffer);
            }, (q, k, v, y, probs, heads));
        }

        return y;
    }

    /// <summary>
    /// <paramref name="x"/> repeated along a new leading axis of size <paramref name="batch"/>: (...) -> (batch, ...).
    /// Broadcasts learned queries over a batch; the gradient is summed back.
    /// </summary>
    public Tensor Expand(Tensor x, int batch)
    {
        if (x.Shape.Rank >= Shape.MaxRank || batch <= 0)
        {
            throw new ArgumentException($"expand: cannot add a leading axis of {batch} to {x.Shape}");
        }

        Span<int> dims = stackalloc int[Shape.MaxRank];
        dims[0] = batch;
        x.Shape.CopyTo(dims[1..]);
        var y = Output(new Shape(dims[..(x.Shape.Rank + 1)]), Tracks(x));
        for (var b = 0; b < batch; b++)
        {
            x.Span.CopyTo(y.Span.Slice(b * x.Length, x.Length));
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y, batch) = s;
                for (var b = 0; b < batch; b++)
                {
                    System.Numerics.Tensors.TensorPrimitives.Add(x.Grad!.Span, y.Grad!.Span.Slice(b * x.Length, x.Length), x.Grad.Span);
                }
            }, (x, y, batch));
        }

        return y;
    }

    // Softmax over the keys a mask allows (in place); a row with none allowed becomes zeros.
    private static void MaskedSoftmaxRow(Span<float> scores, ReadOnlySpan<float> mask)
    {
        if (mask.IsEmpty)
        {
            SoftmaxRow(scores, scores);
            return;
        }

        var max = float.NegativeInfinity;
        for (var j = 0; j < scores.Length; j++)
        {
            if (mask[j] != 0 && scores[j] > max)
            {
                max = scores[j];
            }
        }

        if (float.IsNegativeInfinity(max))
        {
            scores.Clear();
            return;
        }

        var sum = 0f;
        for (var j = 0; j < scores.Length; j++)
        {
            scores[j] = mask[j] != 0 ? MathF.Exp(scores[j] - max) : 0f;
            sum += scores[j];
        }

        System.Numerics.Tensors.TensorPrimitives.Divide(scores, sum, scores);
    }
}
