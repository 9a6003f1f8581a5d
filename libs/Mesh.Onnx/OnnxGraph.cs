using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Mesh.Learning;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Mesh.Onnx;

/// <summary>One dimension of a declared input or output: a fixed size, or a name for a size chosen at run time.</summary>
public readonly record struct Dim(long Size, string? Symbol)
{
    public static implicit operator Dim(int size) => new(size, null);

    public static implicit operator Dim(string symbol) => new(0, symbol);

    public override string ToString() => Symbol ?? Size.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// Builds one ONNX graph with OnnxSharp's message classes: declared inputs and outputs, the engine's parameters as
/// float32 initializers under their checkpoint names, and nodes named in order (<c>n0_MatMul</c>, ...). Each op
/// returns the name of its output, so a forward pass reads like the engine's.
/// </summary>
public sealed class OnnxGraph(string name)
{
    /// <summary>ONNX Runtime 1.32 implements opset 17 in full; LayerNormalization needs 17.</summary>
    public const int Opset = 17;

    private readonly GraphProto _graph = new() { Name = name };
    private readonly HashSet<string> _initializers = new(StringComparer.Ordinal);
    private int _nodes;

    public string Input(string inputName, DataType type, params Dim[] dims)
    {
        _graph.Input.Add(ValueInfo(inputName, type, dims));
        return inputName;
    }

    /// <summary>Declares <paramref name="value"/> as the graph output <paramref name="outputName"/>.</summary>
    public void Output(string outputName, string value, DataType type, params Dim[] dims)
    {
        if (value != outputName)
        {
            var node = new NodeProto { OpType = "Identity", Name = $"n{_nodes++}_Identity" };
            node.Input.Add(value);
            node.Output.Add(outputName);
            _graph.Node.Add(node);
        }

        _graph.Output.Add(ValueInfo(outputName, type, dims));
    }

    /// <summary>A parameter as a float32 initializer named as in checkpoints; added once however often it is used.</summary>
    public string Weight(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        if (_initializers.Add(parameter.Name))
        {
            var tensor = new TensorProto { Name = parameter.Name, DataType = (int)DataType.Float };
            for (var i = 0; i < parameter.Shape.Rank; i++)
            {
                tensor.Dims.Add(parameter.Shape[i]);
            }

            // Raw data is little-endian, as the engine's floats are in memory on every platform .NET runs on here.
            tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(parameter.Value.Span));
            _graph.Initializer.Add(tensor);
        }

        return parameter.Name;
    }

    /// <summary>An int64 vector constant (shapes, axes, pads).</summary>
    public string Longs(params long[] values)
    {
        var constantName = $"c{_graph.Initializer.Count}_i64";
        var tensor = new TensorProto { Name = constantName, DataType = (int)DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        _graph.Initializer.Add(tensor);
        return constantName;
    }

    /// <summary>A scalar constant of float32 or int32.</summary>
    public string Scalar(float value)
    {
        var constantName = $"c{_graph.Initializer.Count}_f32";
        var tensor = new TensorProto { Name = constantName, DataType = (int)DataType.Float };
        tensor.FloatData.Add(value);
        _graph.Initializer.Add(tensor);
        return constantName;
    }

    public string IntScalar(int value)
    {
        var constantName = $"c{_graph.Initializer.Count}_i32";
        var tensor = new TensorProto { Name = constantName, DataType = (int)DataType.Int32 };
        tensor.Int32Data.Add(value);
        _graph.Initializer.Add(tensor);
        return constantName;
    }

    /// <summary>Adds a node with one output; attributes are long, float, long[] or string values.</summary>
    public string Op(string opType, string[] inputs, params (string Name, object Value)[] attributes)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        var nodeName = $"n{_nodes++}_{opType}";
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.Add(inputs);
        node.Output.Add(nodeName);
        foreach (var (attributeName, value) in attributes)
        {
            node.Attribute.Add(Attribute(attributeName, value));
        }

        _graph.Node.Add(node);
        return nodeName;
    }

    public string Op(string opType, string input, params (string Name, object Value)[] attributes) => Op(opType, [input], attributes);

    public string Op(string opType, string a, string b) => Op(opType, [a, b]);

    /// <summary>The finished model: IR version 8, the default domain at <see cref="Opset"/>, metadata as given.</summary>
    public ModelProto Model(string docString, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "mesh",
            ProducerVersion = typeof(OnnxGraph).Assembly.GetName().Version?.ToString() ?? "0",
            Domain = "mesh",
            DocString = docString,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = Opset });
        foreach (var (key, value) in metadata)
        {
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        return model;
    }

    private static AttributeProto Attribute(string attributeName, object value)
    {
        var attribute = new AttributeProto { Name = attributeName };
        switch (value)
        {
            case long i:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = i;
                break;
            case int i:
                attribute.Type = AttributeProto.Types.AttributeType.Int;
                attribute.I = i;
                break;
            case float f:
                attribute.Type = AttributeProto.Types.AttributeType.Float;
                attribute.F = f;
                break;
            case long[] ints:
                attribute.Type = AttributeProto.Types.AttributeType.Ints;
                attribute.Ints.Add(ints);
                break;
            case string s:
                attribute.Type = AttributeProto.Types.AttributeType.String;
                attribute.S = ByteString.CopyFromUtf8(s);
                break;
            default:
                throw new ArgumentException($"attribute {attributeName}: {value.GetType().Name} is not long, float, long[] or string", nameof(value));
        }

        return attribute;
    }

    private static ValueInfoProto ValueInfo(string valueName, DataType type, Dim[] dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = new TensorShapeProto() };
        foreach (var dim in dims)
        {
            tensor.Shape.Dim.Add(dim.Symbol is { } symbol
                ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                : new TensorShapeProto.Types.Dimension { DimValue = dim.Size });
        }

        return new ValueInfoProto { Name = valueName, Type = new TypeProto { TensorType = tensor } };
    }
}
