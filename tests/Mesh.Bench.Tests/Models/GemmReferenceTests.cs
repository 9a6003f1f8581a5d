using Mesh.Bench.Models;

namespace Mesh.Bench.Tests.Models;

public class GemmReferenceTests
{
    [Theory]
    [InlineData(200.0, 150.0, GemmReference.Engine, 200.0)]
    [InlineData(150.0, 200.0, GemmReference.OnnxRuntime, 200.0)]
    [InlineData(180.0, 180.0, GemmReference.Engine, 180.0)]
    [InlineData(180.0, double.NaN, GemmReference.Engine, 180.0)]
    public void Best_IsTheFasterProduct_TheEngineOnATie(double engine, double ort, string source, double gflops)
    {
        var best = GemmReference.Best(engine, ort);

        Assert.Equal((source, gflops), (best.Source, best.Gflops));
    }

    [Fact]
    public void OrtMfu_DividesByTheBestReference_EngineMfuByTheEnginesGemm()
    {
        // 1e9 FLOPs in 10 ms: 100 GFLOP/s; engine GEMM 200, ORT MatMul 250 GFLOP/s.
        var result = new ThroughputBenchmark.Result(BenchModels.Large, 2, 512, 0.02, 0.02, 0.02, 1e9, 200, 0)
        {
            Ort = new ThroughputBenchmark.OrtFigures(0.01, 0.01, 0.01, 250, 0),
        };

        Assert.Equal(0.25, result.Mfu, 1e-9);
        Assert.Equal((GemmReference.OnnxRuntime, 250.0), (result.Reference.Source, result.Reference.Gflops));
        Assert.Equal(0.4, result.OrtMfu, 1e-9);
        Assert.Equal(51_200, result.OrtPerSecond, 1e-6);
    }
}
