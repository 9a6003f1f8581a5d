using Microsoft.ML.OnnxRuntime;

namespace Mesh.Bench.Onnx;

/// <summary>How the benchmarks open ONNX Runtime sessions.</summary>
public static class OrtSessions
{
    /// <summary>
    /// The CPU provider's settings the benchmarks measure: <paramref name="threads"/> intra-op threads (the thread count
    /// being measured), sequential execution (the graphs are chains: no inter-op parallelism to gain), every graph
    /// optimisation. Spinning of idle pool threads is left at ORT's default.
    /// </summary>
    public static SessionOptions Cpu(int threads) => new()
    {
        IntraOpNumThreads = threads,
        ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
    };
}
