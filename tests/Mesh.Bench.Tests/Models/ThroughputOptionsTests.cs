using Mesh.Bench.Models;

namespace Mesh.Bench.Tests.Models;

public class ThroughputOptionsTests
{
    [Fact]
    public void Parse_NoArguments_GivesEachBenchmarksDefaults()
    {
        var (infer, _) = ThroughputOptions.Parse([], ThroughputOptions.Infer);
        var (train, _) = ThroughputOptions.Parse([], ThroughputOptions.Train);

        Assert.Equal(["small", "large", "interformer"], infer!.Models.Select(m => m.Key));
        Assert.Equal([1, 2], infer.Threads);
        Assert.Equal((1, 512, 40), (infer.Requests, infer.Candidates, infer.Repetitions));
        Assert.Equal((32, 16, 20), (train!.Requests, train.Candidates, train.Repetitions));
        Assert.Equal(512, train.BatchSize);
    }

    [Fact]
    public void Parse_EveryOption_IsRead()
    {
        var (options, _) = ThroughputOptions.Parse(["--models", "lr,large", "--threads=2", "--requests", "8", "--candidates", "64",
            "--repetitions", "5", "--warmup", "0", "--seed", "9"], ThroughputOptions.Infer);

        Assert.Equal(["lr", "large"], options!.Models.Select(m => m.Key));
        Assert.Equal([2], options.Threads);
        Assert.Equal((8, 64, 5, 0, 9), (options.Requests, options.Candidates, options.Repetitions, options.Warmup, options.Seed));
    }

    [Theory]
    [InlineData("--models", "huge")]
    [InlineData("--threads", "0")]
    [InlineData("--candidates", "1001")]
    [InlineData("--repetitions", "2")]
    [InlineData("--batch", "512")]
    public void Parse_BadValue_IsAnError(string name, string value)
    {
        var (options, error) = ThroughputOptions.Parse([name, value], ThroughputOptions.Train);

        Assert.Null(options);
        Assert.Contains(name, error);
    }

    [Fact]
    public void Parse_Ort_OnForInferByDefaultAndNeverForTrain()
    {
        var (infer, _) = ThroughputOptions.Parse([], ThroughputOptions.Infer);
        var (off, _) = ThroughputOptions.Parse(["--ort", "off"], ThroughputOptions.Infer);
        var (on, _) = ThroughputOptions.Parse(["--ort=ON"], ThroughputOptions.Infer with { Ort = false });
        var (train, _) = ThroughputOptions.Parse([], ThroughputOptions.Train);

        Assert.True(infer!.Ort);
        Assert.False(off!.Ort);
        Assert.True(on!.Ort);
        Assert.False(train!.Ort);
    }

    [Theory]
    [InlineData("on", true)]
    [InlineData("off", true)]
    [InlineData("maybe", false)]
    public void Parse_OrtForTrain_IsAnError(string value, bool valid)
    {
        var (train, trainError) = ThroughputOptions.Parse(["--ort", value], ThroughputOptions.Train);
        var (infer, _) = ThroughputOptions.Parse(["--ort", value], ThroughputOptions.Infer);

        Assert.Null(train);
        Assert.Contains("--ort", trainError);
        Assert.Equal(valid, infer is not null);
    }

    [Fact]
    public void Parse_BatchOver65536_IsAnError()
    {
        var (options, error) = ThroughputOptions.Parse(["--requests", "512", "--candidates", "512"], ThroughputOptions.Infer);

        Assert.Null(options);
        Assert.Contains("65536", error);
    }

    [Fact]
    public void Inputs_Inference_CarryServedEmbeddingsAndTheBatchShape()
    {
        var options = ThroughputOptions.Infer with { Requests = 2, Candidates = 8 };

        var batches = ThroughputBenchmark.Inputs(options, served: true);

        Assert.Equal(4, batches.Count);
        Assert.All(batches, b => Assert.Equal((2, 16), (b.Requests, b.Candidates)));
        Assert.All(batches, b => Assert.True(b.UsesServedEmbeddings));
        Assert.Contains(batches, b => b.ServedEmbeddings.Any(v => v != 0));
        Assert.All(ThroughputBenchmark.Inputs(options, served: false), b => Assert.False(b.UsesServedEmbeddings));
    }
}
