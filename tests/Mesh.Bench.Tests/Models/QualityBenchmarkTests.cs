using Mesh.Bench.Models;

namespace Mesh.Bench.Tests.Models;

/// <summary>The quality harness on a stream small enough for a test: logistic regression and DHEN small, 20,000 impressions.</summary>
public sealed class TinyQualityRun
{
    public TinyQualityRun()
    {
        Options = QualityOptions.Parse(["--impressions", "20000", "--models", "lr,small", "--holdout", "40"]).Options!;
        Result = QualityBenchmark.Measure(Options, TextWriter.Null);
        using var writer = new StringWriter();
        QualityBenchmark.Write(writer, Options, Result);
        Output = writer.ToString();
    }

    public QualityOptions Options { get; }

    public QualityBenchmark.QualityResult Result { get; }

    public string Output { get; }
}

[Trait("Category", "Slow")]
public class QualityBenchmarkTests(TinyQualityRun run) : IClassFixture<TinyQualityRun>
{
    [Fact]
    public void Measure_TinyStream_ModelsBeatTheBaseRateAndTrailTheOptimum()
    {
        var result = run.Result;
        var baseNe = result.Base.SecondHalf.NormalizedEntropy;
        var optimalNe = result.Optimum.SecondHalf.NormalizedEntropy;

        Assert.InRange(baseNe, 0.99, 1.02); // the running mean label is as good as the base rate gets
        Assert.InRange(optimalNe, 0.6, 0.85);
        Assert.Equal(["lr", "small"], result.Models.Select(m => m.Model.Key));
        Assert.All(result.Models, m => Assert.InRange(m.Track.SecondHalf.NormalizedEntropy, optimalNe, baseNe - 0.02));
        Assert.All(result.Models, m => Assert.Equal(result.Stream.Impressions, m.Track.Whole.Examples));
        Assert.All(result.Models, m => Assert.Equal(40 * 50, m.Holdout.Examples));
    }

    [Fact]
    public void Measure_WithAverage_ScoresEachModelsAverageBesideIt()
    {
        var options = QualityOptions.Parse(["--impressions", "2000", "--models", "lr", "--holdout", "10", "--average", "0.9"]).Options!;

        var result = QualityBenchmark.Measure(options, TextWriter.Null);

        Assert.Equal(["lr", "lr_avg"], result.Models.Select(m => m.Model.Key));
        Assert.All(result.Models, m => Assert.Equal(result.Stream.Impressions, m.Track.Whole.Examples));
        Assert.All(result.Models, m => Assert.Equal(10 * 50, m.Holdout.Examples));
        Assert.NotEqual(result.Models[0].Track.Whole.LogLoss, result.Models[1].Track.Whole.LogLoss); // a different predictor
    }

    [Fact]
    public void Measure_MeshTiers_TrainedTogetherAndPublishedBesideEachTrainedAlone()
    {
        var options = QualityOptions.Parse(["--impressions", "2000", "--models", "small,large", "--holdout", "10", "--alone", "true", "--thresholds", "0"]).Options!;

        var result = QualityBenchmark.Measure(options, TextWriter.Null);

        Assert.Equal(["small", "large", "small_alone", "large_alone"], result.Models.Select(m => m.Model.Key));
        var (small, large, smallAlone, largeAlone) = (result.Models[0], result.Models[1], result.Models[2], result.Models[3]);
        Assert.Same(small.Tower, large.Tower); // one user tower feeds both tiers, as in the model the trainer publishes
        Assert.NotSame(smallAlone.Tower, largeAlone.Tower);
        Assert.All(result.Models, m => Assert.Equal(result.Stream.Impressions, m.Track.Whole.Examples));
        Assert.NotEqual(large.Track.Whole.LogLoss, largeAlone.Track.Whole.LogLoss);
        Assert.Equal(large.Holdout.NormalizedEntropy, result.EarlyExit[0].Ne, 5); // early exit runs on the published large
    }

    [Fact]
    public void Measure_References_SeeEveryImpressionOnce()
    {
        var result = run.Result;

        Assert.Equal(20_000, result.Stream.Impressions);
        Assert.Equal(result.Stream.Impressions, result.Base.Whole.Examples);
        Assert.Equal(result.Stream.Impressions / 2, result.Optimum.SecondHalf.Examples);
        Assert.Equal(result.Optimum.SecondHalf.Examples, result.Optimum.Segments.Sum(s => s.Examples));
        Assert.Equal(10, result.Base.Progressive.Windows.Count);
    }

    [Fact]
    public void Write_TinyStream_PrintsTablesAndOneParsableLinePerFigure()
    {
        var lines = run.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var figures = lines.Where(l => l.StartsWith("BENCH ", StringComparison.Ordinal)).ToList();

        Assert.Contains(lines, l => l.StartsWith("model", StringComparison.Ordinal) && l.Contains("gap closed", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("learning curve", StringComparison.Ordinal));
        Assert.All(figures, f => Assert.Matches(@"^BENCH [a-z0-9_]+ (-?[0-9.]+|nan) [a-zA-Z/]+$", f));
        var names = figures.Select(f => f.Split(' ')[1]).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Contains("quality_optimal_ne", names);
        Assert.Contains("quality_base_ne", names);
        Assert.Contains("quality_lr_ne", names);
        Assert.Contains("quality_lr_gap_closed", names);
        Assert.Contains("quality_small_ne", names);
        Assert.Contains("quality_small_gap_closed", names);
        Assert.Contains("quality_small_auc", names);
        Assert.Contains("quality_small_calibration", names);
        Assert.Contains("quality_small_holdout_ne", names);
        Assert.DoesNotContain(names, n => n.StartsWith("quality_exit_", StringComparison.Ordinal)); // no DHEN large trained
    }

    [Fact]
    public void Measure_WithDhenLarge_EarlyExitTableFromNoExitToThresholdOne()
    {
        var options = QualityOptions.Parse(["--impressions", "1000", "--models", "large", "--holdout", "10", "--thresholds", "0,0.5,1"]).Options!;

        var result = QualityBenchmark.Measure(options, TextWriter.Null);

        Assert.Equal([0, 0.5, 1], result.EarlyExit.Select(e => e.Threshold));
        var full = result.EarlyExit[0];
        Assert.Equal((1.0, 1.0, 1.0), (full.LayerShare, full.FlopShare, full.TopKAgreement));
        Assert.All(result.EarlyExit, e => Assert.InRange(e.LayerShare, 1.0 / 3, 1.0));
        Assert.All(result.EarlyExit, e => Assert.InRange(e.TopKAgreement, 0.0, 1.0));
        Assert.True(result.EarlyExit[^1].LayerShare < 1, "threshold 1 exits every candidate below the k-th after the first layer");
        Assert.NotNull(result.ExitReference);
        Assert.True(result.ExitReference!.OracleCtr > result.ExitReference.RandomCtr);
    }

    [Theory]
    [InlineData(1.0, 0.0)]
    [InlineData(0.7, 1.0)]
    [InlineData(0.85, 0.5)]
    [InlineData(1.03, -0.1)]
    public void GapClosed_IsTheShareOfBaseToOptimum(double modelNe, double closed) =>
        Assert.Equal(closed, QualityTrack.GapClosed(1.0, modelNe, 0.7), 9);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(99, 0)]
    [InlineData(100, 1)]
    [InlineData(9_999, 2)]
    [InlineData(10_000, 3)]
    [InlineData(1_000_000, 3)]
    public void Segment_UserExposure_FallsInItsBucket(long impressions, int segment) =>
        Assert.Equal(segment, QualityTrack.Segment(impressions));
}
