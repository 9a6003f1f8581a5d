namespace Mesh.Learning.Layers;

/// <summary>
/// A named group of parameters with a forward pass. Parameter names are the module name, a dot and the local name
/// (<c>tower.fc1.w</c>); a checkpoint stores parameters under these names.
/// </summary>
public abstract class Module
{
    private readonly List<Parameter> _parameters = [];

    protected Module(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
    }

    public string Name { get; }

    /// <summary>Every parameter of this module and its children, in creation order.</summary>
    public IReadOnlyList<Parameter> Parameters => _parameters;

    protected Parameter AddParameter(string localName, Shape shape, bool sparse = false)
    {
        var parameter = new Parameter($"{Name}.{localName}", shape, sparse);
        _parameters.Add(parameter);
        return parameter;
    }

    protected T AddModule<T>(T module)
        where T : Module
    {
        _parameters.AddRange(module.Parameters);
        return module;
    }
}

/// <summary>Element-wise nonlinearity after a layer.</summary>
public enum Activation
{
    None,
    Relu,
    Gelu,
    Sigmoid,
    Tanh,
}

/// <summary>Weight initialisation of a dense layer.</summary>
public enum WeightInit
{
    /// <summary>Glorot uniform (<see cref="Init.XavierUniform"/>).</summary>
    Xavier,

    /// <summary>He normal (<see cref="Init.HeNormal"/>).</summary>
    He,
}

public static class ActivationExtensions
{
    public static Tensor Activate(this Graph g, Tensor x, Activation activation) => activation switch
    {
        Activation.None => x,
        Activation.Relu => g.Relu(x),
        Activation.Gelu => g.Gelu(x),
        Activation.Sigmoid => g.Sigmoid(x),
        Activation.Tanh => g.Tanh(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation), activation, null),
    };
}
