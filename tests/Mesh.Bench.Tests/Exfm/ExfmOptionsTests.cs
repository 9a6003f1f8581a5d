using Mesh.Models.Distillation;
using ExfmOptions = Mesh.Bench.Exfm.ExfmOptions;

namespace Mesh.Bench.Tests.Exfm;

public class ExfmOptionsTests
{
    [Fact]
    public void Parse_NoArguments_GivesTheDocumentedDefaults()
    {
        var (options, error) = ExfmOptions.Parse([]);

        Assert.Null(error);
        Assert.Equal(3_000, options!.Requests);
        Assert.Equal(6_000, options.Pretrain);
        Assert.Equal(20, options.Lag);
        Assert.Equal([1], options.Seeds);
        Assert.Equal(1f, options.Alpha);
        Assert.Equal(1f, options.Beta);
        Assert.Equal(1f, options.W);
        Assert.Equal(ExfmOptions.AllArms, options.Arms);
        Assert.Equal(100, options.Rate);
    }

    [Fact]
    public void Parse_EveryOption_IsRead()
    {
        var (options, _) = ExfmOptions.Parse(["--requests", "500", "--pretrain=0", "--lag", "5", "--seeds", "3,1,3", "--alpha", "2.5",
            "--beta", "0.1", "--w", "0.5", "--arms", "ah-sa,nofm", "--rate", "2"]);

        Assert.Equal(500, options!.Requests);
        Assert.Equal(0, options.Pretrain);
        Assert.Equal(5, options.Lag);
        Assert.Equal([3, 1], options.Seeds);
        Assert.Equal(2.5f, options.Alpha);
        Assert.Equal(0.1f, options.Beta);
        Assert.Equal(0.5f, options.W);
        Assert.Equal([DistillationMode.None, DistillationMode.AuxiliaryHeadWithAdapter], options.Arms); // the ablation's order
        Assert.Equal(2, options.Rate);
    }

    [Theory]
    [InlineData("--requests", "99")]
    [InlineData("--pretrain", "-1")]
    [InlineData("--lag", "0")]
    [InlineData("--seeds", "1,x")]
    [InlineData("--alpha", "0")]
    [InlineData("--beta", "-0.5")]
    [InlineData("--w", "NaN")]
    [InlineData("--arms", "ah,distill")]
    [InlineData("--arms", ",")]
    [InlineData("--rate", "0.01")]
    [InlineData("--epochs", "2")]
    public void Parse_BadValue_IsAnError(string name, string value)
    {
        var (options, error) = ExfmOptions.Parse([name, value]);

        Assert.Null(options);
        Assert.Contains(name, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(DistillationMode.None, "nofm")]
    [InlineData(DistillationMode.ServingHead, "kd")]
    [InlineData(DistillationMode.AuxiliaryHead, "ah")]
    [InlineData(DistillationMode.AuxiliaryHeadWithAdapter, "ah_sa")]
    public void Key_EachArm_IsTheFigureName(DistillationMode mode, string key) => Assert.Equal(key, ExfmOptions.Key(mode));
}
