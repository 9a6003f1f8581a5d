using Mesh.Bench.Onnx;

namespace Mesh.Bench.Tests.Onnx;

public class GpuOptionsTests
{
    [Fact]
    public void Parse_NoArguments_GivesTheDocumentedDefaults()
    {
        var (options, error) = GpuOptions.Parse([]);

        Assert.Null(error);
        Assert.Equal(["small", "large"], options!.Models.Select(m => m.Key));
        Assert.Equal([512, 4096, 16384], options.BatchSizes);
        Assert.Equal((200, 20, 0, false, GpuProvider.Cuda), (options.Repetitions, options.Warmup, options.Device, options.Tf32, options.Provider));
        Assert.Equal(Environment.ProcessorCount, options.Threads);
    }

    [Fact]
    public void Parse_EveryOption_IsRead()
    {
        var (options, _) = GpuOptions.Parse(["--models", "large", "--batch-sizes=64,1024", "--repetitions", "50", "--warmup", "3",
            "--device", "1", "--tf32", "on", "--threads", "4", "--provider", "cpu", "--seed", "7"]);

        Assert.Equal(["large"], options!.Models.Select(m => m.Key));
        Assert.Equal([64, 1024], options.BatchSizes);
        Assert.Equal((50, 3, 1, true, 4, GpuProvider.Cpu, 7),
            (options.Repetitions, options.Warmup, options.Device, options.Tf32, options.Threads, options.Provider, options.Seed));
    }

    [Theory]
    [InlineData("--batch-sizes", "1000")]
    [InlineData("--batch-sizes", "131072")]
    [InlineData("--repetitions", "5")]
    [InlineData("--provider", "rocm")]
    [InlineData("--provider", "1")]
    [InlineData("--tf32", "yes")]
    [InlineData("--models", "huge")]
    [InlineData("--batch", "512")]
    public void Parse_BadValue_IsAnError(string name, string value)
    {
        var (options, error) = GpuOptions.Parse([name, value]);

        Assert.Null(options);
        Assert.Contains(name, error);
    }

    [Theory]
    [InlineData(64, 1, 64)]
    [InlineData(512, 1, 512)]
    [InlineData(4096, 8, 512)]
    public void Shape_IsOneRequestUpTo512_ElseRequestsOf512(int size, int requests, int candidates)
    {
        Assert.Equal((requests, candidates), GpuOptions.Shape(size));
    }
}
