namespace Mesh.Learning.Optim;

/// <summary>
/// Row-wise Adagrad for embedding tables (as in DLRM/FBGEMM): one accumulator per row, <c>G_r += mean(g_r²)</c>,
/// <c>w_r -= lr · g_r / (sqrt(G_r) + eps)</c>, applied only to the rows the batch touched; the step clears the row
/// gradients. Defaults: lr 0.01, eps 1e-8. One float of state per row instead of Adam's two per element.
/// </summary>
public sealed class RowwiseAdagrad
{
    private readonly Parameter[] _tables;
    private readonly Tensor[] _accumulators;

    public RowwiseAdagrad(IEnumerable<Parameter> tables, float learningRate = 0.01f, float epsilon = 1e-8f)
    {
        _tables = [.. tables];
        foreach (var t in _tables)
        {
            if (!t.IsSparse)
            {
                throw new ArgumentException($"{t.Name} is dense: train it with Adam", nameof(tables));
            }
        }

        _accumulators = [.. _tables.Select(t => new Tensor(new Shape(t.Shape[0])))];
        LearningRate = learningRate;
        Epsilon = epsilon;
    }

    public float LearningRate { get; set; }

    public float Epsilon { get; }

    /// <summary>The per-row accumulators, named <c>adagrad.&lt;parameter&gt;</c>, to checkpoint and restore.</summary>
    public IEnumerable<(string Name, Tensor Value)> State() =>
        _tables.Select((t, i) => ($"adagrad.{t.Name}", _accumulators[i]));

    public void Step()
    {
        for (var i = 0; i < _tables.Length; i++)
        {
            var table = _tables[i];
            var grads = table.RowGrad!;
            var accumulator = _accumulators[i].Span;
            for (var slot = 0; slot < grads.Count; slot++)
            {
                var row = grads.RowIndex(slot);
                ReadOnlySpan<float> g = grads.Values(slot);
                accumulator[row] += System.Numerics.Tensors.TensorPrimitives.SumOfSquares(g) / g.Length;
                var step = LearningRate / (MathF.Sqrt(accumulator[row]) + Epsilon);
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(g, -step, table.Value.Row(row), table.Value.Row(row));
            }

            grads.Clear();
        }
    }
}
