namespace Mesh.Learning.Layers;

/// <summary>
/// Multi-head self-attention over a sequence: projections q, k, v (dim, dim), scaled dot-product attention per head,
/// output projection (dim, dim). No positional encoding: add one to x where order matters.
/// </summary>
public sealed class MultiHeadSelfAttention : Module
{
    private readonly Linear _q;
    private readonly Linear _k;
    private readonly Linear _v;
    private readonly Linear _out;

    public MultiHeadSelfAttention(string name, int dim, int heads, Random rng)
        : base(name)
    {
        if (heads <= 0 || dim % heads != 0)
        {
            throw new ArgumentException($"{heads} heads do not divide dim {dim}", nameof(heads));
        }

        Heads = heads;
        _q = AddModule(new Linear($"{name}.q", dim, dim, rng));
        _k = AddModule(new Linear($"{name}.k", dim, dim, rng));
        _v = AddModule(new Linear($"{name}.v", dim, dim, rng));
        _out = AddModule(new Linear($"{name}.out", dim, dim, rng));
    }

    public int Heads { get; }

    /// <summary>x: (B, T, dim), mask: (B, T) with 0 at padded positions, or null -> (B, T, dim).</summary>
    public Tensor Forward(Graph g, Tensor x, Tensor? mask = null) =>
        _out.Forward(g, g.Attention(_q.Forward(g, x), _k.Forward(g, x), _v.Forward(g, x), Heads, mask));
}

/// <summary>
/// Attention pooling: <c>queries</c> learned query vectors attend over a sequence (keys and values projected from it)
/// and return one weighted sum each, concatenated: (B, T, dim) -> (B, queries · dim). Padded positions are masked;
/// a sequence that is all padding pools to zeros.
/// </summary>
public sealed class AttentionPooling : Module
{
    private readonly Linear _k;
    private readonly Linear _v;

    public AttentionPooling(string name, int dim, int queries, int heads, Random rng)
        : base(name)
    {
        if (heads <= 0 || dim % heads != 0)
        {
            throw new ArgumentException($"{heads} heads do not divide dim {dim}", nameof(heads));
        }

        Dim = dim;
        Heads = heads;
        Query = AddParameter("query", new Shape(queries, dim));
        Init.Normal(Query.Value.Span, rng, 1f / MathF.Sqrt(dim));
        _k = AddModule(new Linear($"{name}.k", dim, dim, rng));
        _v = AddModule(new Linear($"{name}.v", dim, dim, rng));
    }

    public int Dim { get; }

    public int Heads { get; }

    public Parameter Query { get; }

    public int OutputDim => Query.Shape[0] * Dim;

    /// <summary>x: (B, T, dim), mask: (B, T) with 0 at padded positions, or null -> (B, queries · dim).</summary>
    public Tensor Forward(Graph g, Tensor x, Tensor? mask = null)
    {
        var batch = x.Shape[0];
        var pooled = g.Attention(g.Expand(Query.Value, batch), _k.Forward(g, x), _v.Forward(g, x), Heads, mask);
        return g.Reshape(pooled, new Shape(batch, OutputDim));
    }
}
