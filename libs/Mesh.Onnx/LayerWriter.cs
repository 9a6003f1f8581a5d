using Mesh.Learning;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Mesh.Onnx;

/// <summary>
/// The engine's layers (<c>Mesh.Learning.Layers</c>) and ops as ONNX nodes, reading each layer's parameters by their
/// checkpoint names (<c>{layer}.w</c>, <c>{layer}.b</c>, <c>{layer}.table</c>, ...). Each method computes what the
/// engine's op of the same name computes; the export tests hold the two to 1e-5.
/// </summary>
internal sealed class LayerWriter(OnnxGraph graph, IEnumerable<Parameter> parameters)
{
    // Added to the attention scores of padded keys: exp() of it is exactly 0 in float32.
    private const float MaskedScore = -1e9f;

    private readonly Dictionary<string, Parameter> _parameters = parameters.ToDictionary(p => p.Name, StringComparer.Ordinal);

    public OnnxGraph Graph => graph;

    /// <summary>A parameter's initializer by its full name; a missing one is a bug in the export, not in the model.</summary>
    public string Weight(string parameterName) => _parameters.TryGetValue(parameterName, out var p)
        ? graph.Weight(p)
        : throw new InvalidOperationException($"the model has no parameter '{parameterName}'");

    /// <summary><c>Linear</c>: x (..., in) · w (in, out) + b.</summary>
    public string Linear(string x, string layer)
    {
        var y = graph.Op("MatMul", x, Weight($"{layer}.w"));
        return _parameters.ContainsKey($"{layer}.b") ? graph.Op("Add", y, Weight($"{layer}.b")) : y;
    }

    /// <summary><c>LayerNorm</c> over the last axis, eps 1e-5 as the engine's default.</summary>
    public string LayerNorm(string x, string layer) =>
        graph.Op("LayerNormalization", [x, Weight($"{layer}.gamma"), Weight($"{layer}.beta")], ("axis", -1L), ("epsilon", 1e-5f));

    /// <summary><c>Mlp</c> of <paramref name="layers"/> dense layers, <paramref name="activation"/> between them.</summary>
    public string Mlp(string x, string mlp, int layers, string activation)
    {
        for (var i = 0; i < layers; i++)
        {
            x = Linear(x, $"{mlp}.{i}");
            if (i < layers - 1)
            {
                x = activation == "Gelu" ? Gelu(x) : graph.Op(activation, x);
            }
        }

        return x;
    }

    /// <summary>GELU in the engine's tanh form, 0.5 x (1 + tanh(x (c + c·a·x²))), from opset-17 ops.</summary>
    public string Gelu(string x)
    {
        const float c = 0.7978845608028654f;
        const float a = 0.044715f;
        var inner = graph.Op("Mul", graph.Op("Add", graph.Op("Mul", graph.Op("Mul", x, x), graph.Scalar(c * a)), graph.Scalar(c)), x);
        var t = graph.Op("Tanh", inner);
        return graph.Op("Mul", graph.Op("Mul", graph.Op("Add", t, graph.Scalar(1f)), x), graph.Scalar(0.5f));
    }

    /// <summary><c>EmbeddingTable.Lookup</c>: one row per id (int32, any shape) -> ids' shape + (dim).</summary>
    public string Lookup(string table, string ids) => graph.Op("Gather", [Weight($"{table}.table"), ids], ("axis", 0L));

    /// <summary>A lookup where a negative id is padding and gives a zero row, as in the engine (ONNX Gather would wrap it).</summary>
    public string PaddedLookup(string table, string ids)
    {
        var rows = graph.Op("Gather", [Weight($"{table}.table"), graph.Op("Max", ids, graph.IntScalar(0))], ("axis", 0L));
        return graph.Op("Mul", rows, Unsqueeze(Valid(ids), -1));
    }

    /// <summary>
    /// <c>EmbeddingTable.Bag</c> with mean pooling over fixed-size bags: ids (B, M) int32, -1 padding -> (B, dim), the
    /// mean of the present ids' rows; a bag of padding only gives zeros.
    /// </summary>
    public string MeanLookup(string table, string ids)
    {
        var sum = graph.Op("ReduceSum", [PaddedLookup(table, ids), graph.Longs(1)], ("keepdims", 0L)); // (B, dim)
        var count = graph.Op("Max", graph.Op("ReduceSum", [Valid(ids), graph.Longs(1)], ("keepdims", 1L)), graph.Scalar(1f)); // (B, 1)
        return graph.Op("Div", sum, count);
    }

    /// <summary>1f where the id is an event, 0f where it is padding (negative).</summary>
    public string Valid(string ids) => graph.Op("Cast", [graph.Op("GreaterOrEqual", ids, graph.IntScalar(0))], ("to", (long)DataType.Float));

    public string Unsqueeze(string x, params long[] axes) => graph.Op("Unsqueeze", x, graph.Longs(axes));

    public string Reshape(string x, params long[] shape) => graph.Op("Reshape", x, graph.Longs(shape));

    /// <summary>Columns [start, start + length) of the last axis of a 2-D tensor.</summary>
    public string Slice(string x, int start, int length) =>
        graph.Op("Slice", [x, graph.Longs(start), graph.Longs(start + length), graph.Longs(1)]);

    /// <summary>Concatenation along the last axis.</summary>
    public string Concat(params string[] parts) => graph.Op("Concat", parts, ("axis", -1L));

    /// <summary>Rows of x picked by int32 indices: the per-request to per-candidate broadcast.</summary>
    public string Gather(string x, string rows) => graph.Op("Gather", [x, rows], ("axis", 0L));

    /// <summary><c>MultiHeadSelfAttention</c>: x (B, T, dim), mask (B, T) or null -> (B, T, dim).</summary>
    public string SelfAttention(string x, string layer, int dim, int heads, string? mask) =>
        Linear(Attention(Heads(Linear(x, $"{layer}.q"), heads, dim), Linear(x, $"{layer}.k"), Linear(x, $"{layer}.v"), heads, dim, mask), $"{layer}.out");

    /// <summary><c>AttentionPooling</c>: learned queries (Q, dim) over x (B, T, dim), mask (B, T) -> (B, Q·dim).</summary>
    public string Pooling(string x, string layer, int dim, int heads, int queries, string? mask)
    {
        // The queries are the same for every entry: (1, H, Q, dh), broadcast by MatMul over the batch.
        var query = graph.Op("Transpose", [Reshape(Weight($"{layer}.query"), 1, queries, heads, dim / heads)], ("perm", new long[] { 0, 2, 1, 3 }));
        var pooled = Attention(query, Linear(x, $"{layer}.k"), Linear(x, $"{layer}.v"), heads, dim, mask);
        return Reshape(pooled, 0, queries * dim);
    }

    // (B, T, dim) -> (B, H, T, dh).
    private string Heads(string x, int heads, int dim) =>
        graph.Op("Transpose", [Reshape(x, 0, 0, heads, dim / heads)], ("perm", new long[] { 0, 2, 1, 3 }));

    /// <summary>
    /// <c>Graph.Attention</c>: qh (B or 1, H, Tq, dh), k and v (B, Tk, dim) -> (B, Tq, dim). softmax(q kᵀ / √dh) v per
    /// head; a padded key (mask 0) gets no weight, and a query whose keys are all padding gets zeros, as in the engine.
    /// </summary>
    private string Attention(string qh, string k, string v, int heads, int dim, string? mask)
    {
        var dh = dim / heads;
        var kt = graph.Op("Transpose", [Reshape(k, 0, 0, heads, dh)], ("perm", new long[] { 0, 2, 3, 1 }));
        var vh = Heads(v, heads, dim);
        var scores = graph.Op("Mul", graph.Op("MatMul", qh, kt), graph.Scalar(1f / MathF.Sqrt(dh)));
        string weights;
        if (mask is null)
        {
            weights = graph.Op("Softmax", scores, ("axis", -1L));
        }
        else
        {
            var keys = Unsqueeze(mask, 1, 2); // (B, 1, 1, Tk)
            var masked = graph.Op("Add", scores, graph.Op("Mul", graph.Op("Sub", keys, graph.Scalar(1f)), graph.Scalar(-MaskedScore)));
            weights = graph.Op("Mul", graph.Op("Softmax", masked, ("axis", -1L)), keys);
        }

        var y = graph.Op("Transpose", [graph.Op("MatMul", weights, vh)], ("perm", new long[] { 0, 2, 1, 3 }));
        return Reshape(y, 0, 0, dim);
    }
}
