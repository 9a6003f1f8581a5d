using System.Text.Json.Nodes;
using Mesh.Learning.Checkpoints;

namespace Mesh.Learning.Tests.Checkpoints;

public class CheckpointTests
{
    private static readonly CheckpointInfo Info = new()
    {
        Architecture = "test-mlp",
        Step = 12345,
        Config = new JsonObject { ["hidden"] = 16, ["features"] = new JsonArray("user", "ad") },
        Metrics = new Dictionary<string, double> { ["ne"] = 0.8125, ["auc"] = 0.75 },
    };

    private static Parameter[] Parameters(int seed)
    {
        var rng = new Random(seed);
        var w = TestData.Normal("mlp.0.w", rng, 1f, 7, 3);
        var b = TestData.Normal("mlp.0.b", rng, 1f, 3);
        var table = new Parameter("user.table", new Shape(5, 2), sparse: true);
        Init.Normal(table.Value.Span, rng, 1f);
        // Values whose bits a text format or a careless conversion would change.
        w.Value[0] = float.Epsilon;
        w.Value[1] = -0f;
        w.Value[2] = float.NaN;
        w.Value[3] = float.MaxValue;
        return [w, b, table];
    }

    private static byte[] Saved(Parameter[] parameters)
    {
        using var stream = new MemoryStream();
        Checkpoint.Save(stream, Info, parameters);
        return stream.ToArray();
    }

    [Fact]
    public void SaveLoad_RoundTrip_IsBitExactWithInfo()
    {
        var original = Parameters(1);
        var bytes = Saved(original);
        var loaded = Parameters(2);

        var info = Checkpoint.Load(new MemoryStream(bytes), "test-mlp", loaded);

        for (var p = 0; p < original.Length; p++)
        {
            Assert.Equal(Bits(original[p].Value), Bits(loaded[p].Value));
        }

        Assert.Equal(12345, info.Step);
        Assert.Equal(0.8125, info.Metrics["ne"]);
        Assert.Equal(16, (int)info.Config!["hidden"]!);
        Assert.Equal("ad", (string)info.Config!["features"]![1]!);
        // Saving what was loaded gives the same bytes.
        Assert.Equal(bytes, Saved(loaded));
    }

    [Fact]
    public void Read_ExtraTensors_AreListedAndIgnoredByLoad()
    {
        var parameters = Parameters(1);
        using var stream = new MemoryStream();
        Checkpoint.Save(stream, Info, parameters.Select(p => (p.Name, p.Value)).Append(("adam.m.mlp.0.w", new Tensor(new Shape(7, 3)))));

        var contents = Checkpoint.Read(new MemoryStream(stream.ToArray()));
        Checkpoint.Load(new MemoryStream(stream.ToArray()), "test-mlp", Parameters(3));

        Assert.Equal(["mlp.0.w", "mlp.0.b", "user.table", "adam.m.mlp.0.w"], contents.Tensors.Select(t => t.Name));
    }

    [Theory]
    [InlineData(30)] // header
    [InlineData(-40)] // payload
    [InlineData(-1)] // checksum
    public void Load_CorruptedByte_IsRefused(int position)
    {
        var bytes = Saved(Parameters(1));
        bytes[position >= 0 ? position : bytes.Length + position] ^= 0x10;

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(bytes), "test-mlp", Parameters(2)));
        Assert.Contains("checksum", e.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(100)]
    [InlineData(1)]
    public void Load_Truncated_IsRefused(int missing)
    {
        var bytes = Saved(Parameters(1));

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(bytes[..^missing]), "test-mlp", Parameters(2)));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Load_WrongMagic_IsRefused()
    {
        var bytes = Saved(Parameters(1));
        bytes[0] = (byte)'X';

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(bytes), "test-mlp", Parameters(2)));
        Assert.Contains("magic", e.Message);
    }

    [Fact]
    public void Load_OtherFormatVersion_IsRefused()
    {
        var bytes = Saved(Parameters(1));
        bytes[8] = 2;

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(bytes), "test-mlp", Parameters(2)));
        Assert.Contains("version 2", e.Message);
    }

    [Fact]
    public void Load_MismatchedShape_IsRefusedAndNothingCopied()
    {
        var bytes = Saved(Parameters(1));
        var rng = new Random(4);
        var other = new[] { TestData.Normal("mlp.0.w", rng, 1f, 7, 4), TestData.Normal("mlp.0.b", rng, 1f, 3) };
        var before = other[1].Value.ToArray();

        var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(bytes), "test-mlp", other));
        Assert.Contains("'mlp.0.w' has shape (7, 3); the model expects (7, 4)", e.Message);
        Assert.Equal(before, other[1].Value.ToArray());
    }

    [Fact]
    public void Load_OtherArchitectureOrMissingTensor_IsRefused()
    {
        var bytes = Saved(Parameters(1));

        var architecture = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(bytes), "dhen-large", Parameters(2)));
        var missing = Assert.Throws<CheckpointException>(() => Checkpoint.Load(new MemoryStream(bytes), "test-mlp", [new Parameter("extra.w", new Shape(2))]));

        Assert.Contains("'test-mlp' does not match the model's 'dhen-large'", architecture.Message);
        Assert.Contains("no tensor 'extra.w'", missing.Message);
    }

    [Fact]
    public void SaveFile_WritesThroughTemporaryFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mesh-checkpoint-{Guid.NewGuid():N}.bin");
        try
        {
            var parameters = Parameters(1);
            Checkpoint.SaveFile(path, Info, parameters.Select(p => (p.Name, p.Value)));

            using var file = File.OpenRead(path);
            Assert.Equal(3, Checkpoint.Read(file).Tensors.Count);
            Assert.False(File.Exists(path + ".tmp"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static int[] Bits(Tensor t) => [.. t.ToArray().Select(BitConverter.SingleToInt32Bits)];
}
