namespace Mesh.Learning.Layers;

/// <summary>Layer normalisation over the last axis with learned gain (1) and bias (0); eps default 1e-5.</summary>
public sealed class LayerNorm : Module
{
    public LayerNorm(string name, int dim, float eps = 1e-5f)
        : base(name)
    {
        Gamma = AddParameter("gamma", new Shape(dim));
        Gamma.Value.Span.Fill(1f);
        Beta = AddParameter("beta", new Shape(dim));
        Eps = eps;
    }

    public Parameter Gamma { get; }

    public Parameter Beta { get; }

    public float Eps { get; }

    /// <summary>x: (..., dim) -> (..., dim).</summary>
    public Tensor Forward(Graph g, Tensor x) => g.LayerNorm(x, Gamma.Value, Beta.Value, Eps);
}
