using Mesh.Bench.Gemm;

namespace Mesh.Bench.Tests.Gemm;

public class GemmOptionsTests
{
    [Fact]
    public void Parse_NoArguments_GivesTheDocumentedDefaults()
    {
        var (options, error) = GemmOptions.Parse([]);

        Assert.Null(error);
        Assert.Equal(["512", "1024", "512x256x256", "512x1024x256", "512x256x1024"], options!.Shapes.Select(s => s.Name));
        Assert.Equal([1, 2], options.Threads);
        Assert.Equal(15, options.Repetitions);
    }

    [Fact]
    public void Parse_ShapesThreadsRepetitions_AreRead()
    {
        var (options, _) = GemmOptions.Parse(["--shapes", "64,8x16x32", "--threads=1", "--repetitions", "5", "--warmup", "0"]);

        Assert.Equal([new GemmShape(64, 64, 64), new GemmShape(8, 16, 32)], options!.Shapes);
        Assert.Equal([1], options.Threads);
        Assert.Equal(5, options.Repetitions);
        Assert.Equal(0, options.Warmup);
    }

    [Theory]
    [InlineData("--shapes", "8x16")]
    [InlineData("--threads", "0")]
    [InlineData("--repetitions", "1")]
    [InlineData("--colour", "red")]
    public void Parse_BadValue_IsAnError(string name, string value)
    {
        var (options, error) = GemmOptions.Parse([name, value]);

        Assert.Null(options);
        Assert.NotNull(error);
    }

    [Fact]
    public void Shape_FlopsAndName()
    {
        Assert.Equal(2.0 * 512 * 1024 * 256, new GemmShape(512, 1024, 256).Flops);
        Assert.Equal("512x1024x256", new GemmShape(512, 1024, 256).Name);
    }
}
