using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Mesh.Bench.Onnx;

/// <summary>
/// ONNX Runtime's own GEMM rate: a one-node graph <c>C = MatMul(A, B)</c> on n x n float32 matrices, both graph inputs
/// (initializers would let constant folding compute the product when the session loads), run on pre-allocated values.
/// The reference that ORT's MFU is measured against, beside the engine's GEMM.
/// </summary>
public sealed class OrtMatMul : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _run = new();
    private readonly OrtValue[] _inputs;
    private readonly OrtValue[] _outputs;

    /// <param name="n">The size of the square product: 2n³ FLOPs.</param>
    /// <param name="a">A, n x n row-major.</param>
    /// <param name="b">B, n x n row-major.</param>
    /// <param name="c">C, n x n row-major, written by <see cref="Run"/>.</param>
    /// <param name="options">The session's options; the caller keeps and disposes them.</param>
    public OrtMatMul(int n, float[] a, float[] b, float[] c, SessionOptions options)
    {
        _session = new InferenceSession(Model(n).ToByteArray(), options);
        _inputs = [OrtValue.CreateTensorValueFromMemory(a, [n, n]), OrtValue.CreateTensorValueFromMemory(b, [n, n])];
        _outputs = [OrtValue.CreateTensorValueFromMemory(c, [n, n])];
    }

    public void Run() => _session.Run(_run, ["A", "B"], _inputs, ["C"], _outputs);

    /// <summary>The graph: inputs A and B, output C, all float32 n x n; opset 17.</summary>
    public static ModelProto Model(int n)
    {
        var graph = new GraphProto { Name = "matmul" };
        graph.Input.Add(Matrix("A", n));
        graph.Input.Add(Matrix("B", n));
        graph.Output.Add(Matrix("C", n));
        var node = new NodeProto { OpType = "MatMul", Name = "matmul" };
        node.Input.Add(["A", "B"]);
        node.Output.Add("C");
        graph.Node.Add(node);
        var model = new ModelProto { IrVersion = 8, ProducerName = "mesh-bench", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = 17 });
        return model;
    }

    public void Dispose()
    {
        foreach (var value in _inputs.Concat(_outputs))
        {
            value.Dispose();
        }

        _run.Dispose();
        _session.Dispose();
    }

    private static ValueInfoProto Matrix(string name, int n)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = n });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = n });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)DataType.Float, Shape = shape } } };
    }
}
