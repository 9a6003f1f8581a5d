using Mesh.Bench.Models;
using Mesh.Bench.Onnx;
using Mesh.Learning.Kernels;
using EngineGemm = Mesh.Learning.Kernels.Gemm;

namespace Mesh.Bench.Tests.Onnx;

/// <summary>What the infer and gpu benchmarks time under ONNX Runtime computes what the engine does, on the benchmarks' own batches.</summary>
public class OrtNetworkTests
{
    public static TheoryData<string> Models => [.. BenchModels.All.Select(m => m.Key)];

    [Theory]
    [MemberData(nameof(Models))]
    public void Run_OnTheBenchBatches_MatchesTheEngine(string key)
    {
        var options = ThroughputOptions.Infer with { Requests = 2, Candidates = 8 };
        var batches = ThroughputBenchmark.Inputs(options, served: true, count: 2);
        var rng = new Random(options.Seed);
        var network = BenchModels.WithoutZeroParameters(BenchModels.Parse(key)![0].Create(rng), rng);
        using var sessionOptions = OrtSessions.Cpu(threads: 1);
        using var onnx = new OrtNetwork(network, batches, sessionOptions);

        var difference = ThroughputBenchmark.MaxScoreDifference(network, batches, onnx, threads: 1);

        Assert.InRange(difference, 0, ThroughputBenchmark.OrtTolerance);
        Assert.True(onnx.Scores(0).ToArray().Distinct().Count() > 1, "the scores should vary, or agreeing would prove nothing");
        Assert.Equal(batches[0].Candidates, onnx.Scores(0).Length);
        Assert.Equal(batches[0].Candidates * onnx.Heads, onnx.Logits(0).Length);
    }

    [Fact]
    public void Heads_OfDhen_AreItsLayers()
    {
        var batches = ThroughputBenchmark.Inputs(ThroughputOptions.Infer with { Candidates = 4 }, served: true, count: 1);
        using var sessionOptions = OrtSessions.Cpu(threads: 1);
        using var onnx = new OrtNetwork(BenchModels.Large.Create(new Random(1)), batches, sessionOptions);

        Assert.Equal(Mesh.Models.Networks.DhenConfig.Large.Layers, onnx.Heads);
    }

    [Fact]
    public void MaxAbsDifference_SameNetwork_IsZero_OtherWeights_IsNot()
    {
        var batches = ThroughputBenchmark.Inputs(ThroughputOptions.Infer with { Candidates = 16 }, served: true, count: 2);
        using var sessionOptions = OrtSessions.Cpu(threads: 1);
        using var a = new OrtNetwork(Small(seed: 1), batches, sessionOptions);
        using var b = new OrtNetwork(Small(seed: 1), batches, sessionOptions);
        using var other = new OrtNetwork(Small(seed: 2), batches, sessionOptions);

        Assert.Equal(0, GpuBenchmark.MaxAbsDifference(a, b, batches.Count));
        Assert.True(GpuBenchmark.MaxAbsDifference(a, other, batches.Count) > 1e-3);
    }

    [Fact]
    public void MatMul_ComputesTheEnginesProduct()
    {
        const int N = 24;
        var rng = new Random(3);
        var x = Enumerable.Range(0, N * N).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var y = Enumerable.Range(0, N * N).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var expected = new float[N * N];
        var actual = new float[N * N];
        EngineGemm.Multiply(Transpose.No, Transpose.No, N, N, N, 1f, x, N, y, N, 0f, expected, N, 1);
        using var sessionOptions = OrtSessions.Cpu(threads: 1);
        using var matMul = new OrtMatMul(N, x, y, actual, sessionOptions);

        matMul.Run();

        Assert.All(Enumerable.Range(0, N * N), i => Assert.Equal(expected[i], actual[i], 1e-5f));
    }

    private static Mesh.Models.Networks.RankingNetwork Small(int seed)
    {
        var rng = new Random(seed);
        return BenchModels.WithoutZeroParameters(BenchModels.Small.Create(rng), rng);
    }
}
