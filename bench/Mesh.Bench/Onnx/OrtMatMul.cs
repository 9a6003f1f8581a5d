using Google.Protobuf;
using Mesh.Onnx;
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
        var graph = new OnnxGraph("matmul");
        graph.Output("C", graph.Op("MatMul", graph.Input("A", DataType.Float, n, n), graph.Input("B", DataType.Float, n, n)), DataType.Float, n, n);
        return graph.Model("C = MatMul(A, B): ONNX Runtime's GEMM rate.", new Dictionary<string, string>());
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
}
