using System.Numerics.Tensors;

namespace Mesh.Learning;

public sealed partial class Graph
{
    /// <summary>A view of <paramref name="x"/> in another shape of the same element count; no copy, no backward step.</summary>
    public Tensor Reshape(Tensor x, Shape shape)
    {
        x.CheckReshape(shape);
        return View(x, 0, shape, withGrad: IsTraining);
    }

    /// <summary>A view of <paramref name="x"/> through which no gradient flows back (its value, as a constant).</summary>
    public Tensor StopGradient(Tensor x) => View(x, 0, x.Shape, withGrad: false);

    /// <summary>
    /// Identity forward; backward multiplies the gradient by <paramref name="factor"/> (0 stops it, negative reverses
    /// it). Lets an auxiliary head train with its own weight on the shared layers below it.
    /// </summary>
    public Tensor ScaleGradient(Tensor x, float factor)
    {
        if (!Tracks(x))
        {
            return x;
        }

        // Shares x's values; only the gradient is its own.
        var gradData = TakeBuffer(x.Length);
        Array.Clear(gradData, 0, x.Length);
        var y = TakeHeader(x.Data, x.Offset, x.Shape, TakeHeader(gradData, 0, x.Shape, null));
        Record(static s =>
        {
            var (x, y, factor) = s;
            TensorPrimitives.MultiplyAdd(y.Grad!.Span, factor, x.Grad!.Span, x.Grad.Span);
        }, (x, y, factor));
        return y;
    }

    /// <summary>
    /// Rows of <paramref name="x"/> picked by index: (R, ...) -> (N, ...) with output row i = x[rows[i]]. Broadcasts what
    /// is computed once per request (the user side) to each of its candidates; the gradient is summed back per source
    /// row. <paramref name="rows"/> must stay unchanged until the backward pass.
    /// </summary>
    public Tensor Gather(Tensor x, ReadOnlyMemory<int> rows)
    {
        if (x.Shape.Rank < 1)
        {
            throw new ArgumentException("gather: x needs a leading axis", nameof(x));
        }

        var source = x.Shape[0];
        var width = source == 0 ? 0 : x.Length / source;
        Span<int> dims = stackalloc int[Shape.MaxRank];
        x.Shape.CopyTo(dims);
        dims[0] = rows.Length;
        var y = Output(new Shape(dims[..x.Shape.Rank]), Tracks(x));
        var index = rows.Span;
        for (var i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)source)
            {
                throw new ArgumentOutOfRangeException(nameof(rows), $"gather: row {index[i]} outside the {source} rows of {x.Shape}");
            }

            x.Span.Slice(index[i] * width, width).CopyTo(y.Span.Slice(i * width, width));
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y, rows, width) = s;
                var index = rows.Span;
                for (var i = 0; i < index.Length; i++)
                {
                    var into = x.Grad!.Span.Slice(index[i] * width, width);
                    TensorPrimitives.Add(into, y.Grad!.Span.Slice(i * width, width), into);
                }
            }, (x, y, rows, width));
        }

        return y;
    }

    /// <summary>
    /// Concatenation along the last (feature) axis: parts (..., D_i) with equal leading axes -> (..., Σ D_i).
    /// </summary>
    public Tensor Concat(params ReadOnlySpan<Tensor> parts)
    {
        if (parts.IsEmpty)
        {
            throw new ArgumentException("concat: no parts", nameof(parts));
        }

        var rows = parts[0].Shape.Rows;
        var width = 0;
        var tracks = false;
        foreach (var part in parts)
        {
            if (part.Shape.Rank != parts[0].Shape.Rank || part.Shape.Rows != rows
                || part.Shape.WithLast(1) != parts[0].Shape.WithLast(1))
            {
                throw new ArgumentException($"concat: {part.Shape} and {parts[0].Shape} differ before the last axis", nameof(parts));
            }

            width += part.Shape.Last;
            tracks |= Tracks(part);
        }

        var y = Output(parts[0].Shape.WithLast(width), tracks);
        var column = 0;
        foreach (var part in parts)
        {
            var w = part.Shape.Last;
            for (var i = 0; i < rows; i++)
            {
                part.Row(i).CopyTo(y.Row(i).Slice(column, w));
            }

            column += w;
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (parts, y) = s;
                var column = 0;
                foreach (var part in parts)
                {
                    var w = part.Shape.Last;
                    if (part.Grad is not null)
                    {
                        for (var i = 0; i < part.Shape.Rows; i++)
                        {
                            TensorPrimitives.Add(part.Grad.Row(i), y.Grad!.Row(i).Slice(column, w), part.Grad.Row(i));
                        }
                    }

                    column += w;
                }
            }, (parts.ToArray(), y));
        }

        return y;
    }

    /// <summary>Columns [start, start + length) of the last axis: (..., D) -> (..., length), copied.</summary>
    public Tensor Slice(Tensor x, int start, int length)
    {
        if (start < 0 || length < 0 || start + length > x.Shape.Last)
        {
            throw new ArgumentOutOfRangeException(nameof(start), $"slice: columns [{start}, {start + length}) of {x.Shape}");
        }

        var y = Output(x.Shape.WithLast(length), Tracks(x));
        for (var i = 0; i < x.Shape.Rows; i++)
        {
            x.Row(i).Slice(start, length).CopyTo(y.Row(i));
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (x, y, start) = s;
                var length = y.Shape.Last;
                for (var i = 0; i < x.Shape.Rows; i++)
                {
                    var dx = x.Grad!.Row(i).Slice(start, length);
                    TensorPrimitives.Add(dx, y.Grad!.Row(i), dx);
                }
            }, (x, y, start));
        }

        return y;
    }
}
