namespace Mesh.Learning.Layers;

/// <summary>
/// A DCN-v2 cross layer, <c>x_{l+1} = x0 ⊙ (x_l · W + b) + x_l</c> with a full-rank W (dim, dim): each layer adds one
/// degree of explicit feature interaction, and the residual keeps the lower degrees.
/// </summary>
public sealed class CrossLayer : Module
{
    private readonly Linear _linear;

    public CrossLayer(string name, int dim, Random rng)
        : base(name)
    {
        _linear = AddModule(new Linear(name, dim, dim, rng));
    }

    /// <summary>x0, xl: (B, dim) -> (B, dim).</summary>
    public Tensor Forward(Graph g, Tensor x0, Tensor xl) => g.Add(g.Mul(x0, _linear.Forward(g, xl)), xl);
}

/// <summary>A stack of <see cref="CrossLayer"/>s on the same input x0.</summary>
public sealed class CrossNetwork : Module
{
    private readonly CrossLayer[] _layers;

    public CrossNetwork(string name, int dim, int depth, Random rng)
        : base(name)
    {
        _layers = new CrossLayer[depth];
        for (var i = 0; i < depth; i++)
        {
            _layers[i] = AddModule(new CrossLayer($"{name}.{i}", dim, rng));
        }
    }

    /// <summary>x0: (B, dim) -> (B, dim).</summary>
    public Tensor Forward(Graph g, Tensor x0)
    {
        var x = x0;
        foreach (var layer in _layers)
        {
            x = layer.Forward(g, x0, x);
        }

        return x;
    }
}
