using Mesh.Bench.Exfm;
using Mesh.Models.Distillation;
using ExfmOptions = Mesh.Bench.Exfm.ExfmOptions;

namespace Mesh.Bench.Tests.Exfm;

public class ExfmBenchmarkTests
{
    // The smallest stream the options allow: 4 batches, the FM republished after each, so the students see 4 versions.
    private static readonly ExfmOptions Tiny = new() { Requests = 100, Pretrain = 64, Lag = 1 };

    [Fact]
    [Trait("Category", "Slow")] // two runs of four students and the FM: about 13 s in Debug on a loaded 2-core machine
    public void Measure_SameOptionsTwice_GivesIdenticalFigures()
    {
        var first = ExfmBenchmark.Measure(Tiny, seed: 2, TextWriter.Null);
        var second = ExfmBenchmark.Measure(Tiny, seed: 2, TextWriter.Null);

        Assert.Equal(first.Arms.Select(a => (a.Mode, a.Ne, a.Auc)), second.Arms.Select(a => (a.Mode, a.Ne, a.Auc)));
        Assert.Equal(first.FmNe, second.FmNe);
        Assert.Equal(first.OptimalNe, second.OptimalNe);
        Assert.Equal(first.FmExamples, second.FmExamples);
        Assert.Equal(4, first.Arms.Count);
        Assert.All(first.Arms, a => Assert.InRange(a.Ne, 0.1, 2));
        // The arms differ only in how they use the teacher: had it reached none of them, KD would equal no FM.
        Assert.NotEqual(first.Ne(DistillationMode.None), first.Ne(DistillationMode.ServingHead));
    }

    [Fact]
    public void Measure_TwoStudentsSharingTheFm_RunsItOncePerUniqueExample()
    {
        var result = ExfmBenchmark.Measure(Tiny with { Arms = [DistillationMode.AuxiliaryHead, DistillationMode.AuxiliaryHeadWithAdapter] }, seed: 1, TextWriter.Null);

        Assert.Equal(2, result.Students);
        Assert.Equal(1_000, result.UniqueExamples); // 100 requests, 10 served each, a teacher published from the start
        Assert.Equal(result.UniqueExamples, result.FmExamples);
        Assert.Equal(2 * result.UniqueExamples, result.JoinedRows);
        Assert.Equal(1.0, result.FmCallsPerExample);
    }

    [Fact]
    public void Measure_NoPretraining_JoinsNoTeacherBeforeTheFirstPublish()
    {
        var result = ExfmBenchmark.Measure(Tiny with { Pretrain = 0, Lag = 2, Arms = [DistillationMode.ServingHead] }, seed: 1, TextWriter.Null);

        // Batches 0 and 1 (640 rows) have no teacher; the FM is first published after batch 1 and runs on the rest.
        Assert.Equal(1_000 - 640, result.UniqueExamples);
        Assert.Equal(result.UniqueExamples, result.FmExamples);
    }

    [Theory]
    [InlineData(0.90, 0.85, 0.80, 0.5)] // the student gets half the FM's gain
    [InlineData(0.90, 0.80, 0.80, 1.0)]
    [InlineData(0.90, 0.92, 0.80, -0.2)] // distillation hurt
    public void TransferRatioOf_FmBetter_IsTheShareOfItsGain(double noFm, double student, double fm, double expected) =>
        Assert.Equal(expected, ExfmBenchmark.TransferRatioOf(noFm, student, fm), 9);

    [Fact]
    public void TransferRatioOf_FmNoBetter_IsNaN() => Assert.True(double.IsNaN(ExfmBenchmark.TransferRatioOf(0.8, 0.79, 0.85)));
}
