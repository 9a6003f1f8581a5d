namespace Mesh.Learning.Layers;

/// <summary>
/// An embedding table (rows, dim) with sparse row gradients, initialised N(0, std²) (default std 1/sqrt(dim)). Train it
/// with <see cref="Optim.RowwiseAdagrad"/>, which updates only the rows a batch used.
/// </summary>
public sealed class EmbeddingTable : Module
{
    public EmbeddingTable(string name, int rows, int dim, Random rng, float? std = null)
        : base(name)
    {
        Table = AddParameter("table", new Shape(rows, dim), sparse: true);
        Init.Normal(Table.Value.Span, rng, std ?? 1f / MathF.Sqrt(dim));
    }

    public Parameter Table { get; }

    public int Rows => Table.Shape[0];

    public int Dim => Table.Shape[1];

    /// <summary>Bags of ids (see <see cref="Graph.EmbeddingBag"/>) -> (B, dim).</summary>
    public Tensor Bag(Graph g, ReadOnlyMemory<int> ids, ReadOnlyMemory<int> offsets, Pooling pooling = Pooling.Sum) =>
        g.EmbeddingBag(Table, ids, offsets, pooling);

    /// <summary>One row per id (negative: padding, zeros) -> (N, dim).</summary>
    public Tensor Lookup(Graph g, ReadOnlyMemory<int> ids) => g.Embedding(Table, ids);
}
