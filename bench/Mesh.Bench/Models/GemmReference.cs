namespace Mesh.Bench.Models;

/// <summary>
/// The GEMM rate an MFU is measured against: the best 512³ product measured in the run, the engine's GEMM or ONNX
/// Runtime's MatMul, so that a runtime is not flattered by a slower reference of its own.
/// </summary>
public readonly record struct GemmReference(string Source, double Gflops)
{
    public const string Engine = "engine";
    public const string OnnxRuntime = "ort";

    /// <summary>The larger of the two rates (GFLOP/s); the engine's on a tie or when ORT's was not measured (NaN).</summary>
    public static GemmReference Best(double engineGflops, double ortGflops) =>
        ortGflops > engineGflops ? new(OnnxRuntime, ortGflops) : new(Engine, engineGflops);
}
