namespace Mesh.Learning.Layers;

/// <summary>A dense layer <c>y = x · W + b</c>: W (in, out), b (out) zero-initialised.</summary>
public sealed class Linear : Module
{
    public Linear(string name, int inFeatures, int outFeatures, Random rng, bool bias = true, WeightInit init = WeightInit.Xavier)
        : base(name)
    {
        In = inFeatures;
        Out = outFeatures;
        Weight = AddParameter("w", new Shape(inFeatures, outFeatures));
        if (init == WeightInit.He)
        {
            Init.HeNormal(Weight.Value.Span, inFeatures, rng);
        }
        else
        {
            Init.XavierUniform(Weight.Value.Span, inFeatures, outFeatures, rng);
        }

        Bias = bias ? AddParameter("b", new Shape(outFeatures)) : null;
    }

    public int In { get; }

    public int Out { get; }

    public Parameter Weight { get; }

    public Parameter? Bias { get; }

    /// <summary>x: (..., In) -> (..., Out).</summary>
    public Tensor Forward(Graph g, Tensor x) => g.Linear(x, Weight.Value, Bias?.Value);
}

/// <summary>
/// A multilayer perceptron: <c>sizes = [in, h1, ..., out]</c>, an activation after every layer but the last (unless
/// <c>activateLast</c>). He initialisation for ReLU/GELU layers, Xavier otherwise.
/// </summary>
public sealed class Mlp : Module
{
    private readonly Linear[] _layers;

    public Mlp(string name, IReadOnlyList<int> sizes, Random rng, Activation activation = Activation.Relu, bool activateLast = false)
        : base(name)
    {
        if (sizes.Count < 2)
        {
            throw new ArgumentException("an MLP needs at least [in, out]", nameof(sizes));
        }

        Activation = activation;
        ActivateLast = activateLast;
        var init = activation is Activation.Relu or Activation.Gelu ? WeightInit.He : WeightInit.Xavier;
        _layers = new Linear[sizes.Count - 1];
        for (var i = 0; i < _layers.Length; i++)
        {
            var activated = i < _layers.Length - 1 || activateLast;
            _layers[i] = AddModule(new Linear($"{name}.{i}", sizes[i], sizes[i + 1], rng, init: activated ? init : WeightInit.Xavier));
        }
    }

    public Activation Activation { get; }

    public bool ActivateLast { get; }

    public IReadOnlyList<Linear> Layers => _layers;

    /// <summary>x: (..., sizes[0]) -> (..., sizes[^1]).</summary>
    public Tensor Forward(Graph g, Tensor x)
    {
        for (var i = 0; i < _layers.Length; i++)
        {
            x = _layers[i].Forward(g, x);
            if (i < _layers.Length - 1 || ActivateLast)
            {
                x = g.Activate(x, Activation);
            }
        }

        return x;
    }
}
