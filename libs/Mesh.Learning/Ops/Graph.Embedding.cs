using System.Numerics.Tensors;

namespace Mesh.Learning;

/// <summary>How an embedding bag pools the rows of its ids.</summary>
public enum Pooling
{
    Sum,
    Mean,
}

public sealed partial class Graph
{
    /// <summary>
    /// Embedding bags: bag b pools the table rows of <c>ids[offsets[b] .. offsets[b + 1])</c>. table: (V, D), offsets:
    /// B + 1 ascending positions into ids -> (B, D). A negative id is padding: it adds nothing and is not counted by
    /// the mean; an empty bag gives zeros. The table's gradient touches only the rows used (sparse for a sparse
    /// parameter). <paramref name="ids"/> and <paramref name="offsets"/> must stay unchanged until the backward pass.
    /// </summary>
    public Tensor EmbeddingBag(Parameter table, ReadOnlyMemory<int> ids, ReadOnlyMemory<int> offsets, Pooling pooling = Pooling.Sum)
    {
        if (offsets.Length < 1)
        {
            throw new ArgumentException("embedding bag: offsets needs B + 1 entries", nameof(offsets));
        }

        var batch = offsets.Length - 1;
        var off = offsets.Span;
        if (off[0] < 0 || off[batch] > ids.Length)
        {
            throw new ArgumentException($"embedding bag: offsets [{off[0]}, {off[batch]}] outside the {ids.Length} ids", nameof(offsets));
        }

        for (var b = 0; b < batch; b++)
        {
            if (off[b + 1] < off[b])
            {
                throw new ArgumentException($"embedding bag: offsets decrease at bag {b}", nameof(offsets));
            }
        }

        return Embed(table, ids, offsets, batch, pooling);
    }

    /// <summary>
    /// One table row per id: ids: (N) -> (N, D); a negative id (padding) gives a zero row. Reshape to (B, T, D) for a
    /// sequence. <paramref name="ids"/> must stay unchanged until the backward pass.
    /// </summary>
    public Tensor Embedding(Parameter table, ReadOnlyMemory<int> ids) =>
        Embed(table, ids, ReadOnlyMemory<int>.Empty, ids.Length, Pooling.Sum);

    // offsets empty: bag i is ids[i] alone.
    private Tensor Embed(Parameter table, ReadOnlyMemory<int> ids, ReadOnlyMemory<int> offsets, int batch, Pooling pooling)
    {
        if (table.Shape.Rank != 2)
        {
            throw new ArgumentException($"embedding: the table {table.Name} is {table.Shape}, not (V, D)", nameof(table));
        }

        int rows = table.Shape[0], d = table.Shape[1];
        foreach (var id in ids.Span)
        {
            if (id >= rows)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"embedding: id outside table {table.Name} of {rows} rows");
            }
        }

        var tracks = IsTraining && (table.RowGrad is not null || table.Value.Grad is not null);
        var y = Output(new Shape(batch, d), tracks);
        for (var b = 0; b < batch; b++)
        {
            var (from, to) = Bag(offsets.Span, b);
            var row = y.Row(b);
            row.Clear();
            var count = 0;
            for (var i = from; i < to; i++)
            {
                var id = ids.Span[i];
                if (id >= 0)
                {
                    TensorPrimitives.Add(row, table.Value.Row(id), row);
                    count++;
                }
            }

            if (pooling == Pooling.Mean && count > 1)
            {
                TensorPrimitives.Multiply(row, 1f / count, row);
            }
        }

        if (y.Grad is not null)
        {
            Record(static s =>
            {
                var (table, ids, offsets, y, pooling) = s;
                for (var b = 0; b < y.Shape[0]; b++)
                {
                    var (from, to) = Bag(offsets.Span, b);
                    var count = 0;
                    for (var i = from; i < to; i++)
                    {
                        count += ids.Span[i] >= 0 ? 1 : 0;
                    }

                    var factor = pooling == Pooling.Mean && count > 0 ? 1f / count : 1f;
                    var dy = y.Grad!.Row(b);
                    for (var i = from; i < to; i++)
                    {
                        var id = ids.Span[i];
                        if (id >= 0)
                        {
                            var dRow = table.RowGrad is not null ? table.RowGrad.Accumulate(id) : table.Value.Grad!.Row(id);
                            TensorPrimitives.MultiplyAdd(dy, factor, dRow, dRow);
                        }
                    }
                }
            }, (table, ids, offsets, y, pooling));
        }

        return y;
    }

    private static (int From, int To) Bag(ReadOnlySpan<int> offsets, int b) =>
        offsets.IsEmpty ? (b, b + 1) : (offsets[b], offsets[b + 1]);
}
