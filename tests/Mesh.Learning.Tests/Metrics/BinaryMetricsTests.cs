using Mesh.Learning.Metrics;

namespace Mesh.Learning.Tests.Metrics;

public class BinaryMetricsTests
{
    [Fact]
    public void BaseRatePredictor_HasNormalizedEntropyOneAndCalibrationOne()
    {
        var metrics = new BinaryMetrics();
        for (var i = 0; i < 1000; i++)
        {
            metrics.Add(0.1f, i % 10 == 0 ? 1f : 0f);
        }

        Assert.Equal(0.1, metrics.BaseRate, 1e-12);
        Assert.Equal(1.0, metrics.NormalizedEntropy, 1e-6);
        Assert.Equal(1.0, metrics.Calibration, 1e-6);
        Assert.Equal(BinaryMetrics.Entropy(0.1), metrics.LogLoss, 1e-6);
        Assert.Equal(0.5, metrics.Auc, 1e-12);
    }

    [Fact]
    public void HistogramAuc_RandomScores_IsWithinOneThousandthOfExact()
    {
        var rng = new Random(17);
        var n = 20000;
        var predictions = new float[n];
        var labels = new float[n];
        var weights = new float[n];
        for (var i = 0; i < n; i++)
        {
            // Click probabilities around 2%, as in ads; labels drawn from a noisy version of them.
            var logit = -4 + 1.5 * Init.Gaussian(rng);
            predictions[i] = (float)(1 / (1 + Math.Exp(-logit)));
            labels[i] = rng.NextDouble() < 1 / (1 + Math.Exp(-(logit + Init.Gaussian(rng)))) ? 1f : 0f;
            weights[i] = 0.5f + (float)rng.NextDouble();
        }

        var metrics = new BinaryMetrics();
        metrics.Add(predictions, labels, weights);

        Assert.Equal(BinaryMetrics.ExactAuc(predictions, labels, weights), metrics.Auc, 1e-3);
    }

    [Fact]
    public void ExactAuc_TiesAndPerfectOrder()
    {
        Assert.Equal(1.0, BinaryMetrics.ExactAuc([0.1f, 0.2f, 0.8f, 0.9f], [0, 0, 1, 1]));
        Assert.Equal(0.0, BinaryMetrics.ExactAuc([0.9f, 0.8f, 0.2f, 0.1f], [0, 0, 1, 1]));
        Assert.Equal(0.5, BinaryMetrics.ExactAuc([0.5f, 0.5f], [0, 1]));
    }

    [Fact]
    public void SoftLabel_CountsAsWeightedPositiveAndNegative()
    {
        var soft = new BinaryMetrics();
        soft.Add(0.2f, 0.25f, 2f);
        soft.Add(0.7f, 1f);
        var split = new BinaryMetrics();
        split.Add(0.2f, 1f, 0.5f);
        split.Add(0.2f, 0f, 1.5f);
        split.Add(0.7f, 1f);

        Assert.Equal(split.LogLoss, soft.LogLoss, 1e-12);
        Assert.Equal(split.Calibration, soft.Calibration, 1e-12);
        Assert.Equal(split.Auc, soft.Auc, 1e-12);
        Assert.Equal(split.NormalizedEntropy, soft.NormalizedEntropy, 1e-12);
    }

    [Fact]
    public void Merge_TwoWindows_EqualsOneStream()
    {
        var rng = new Random(3);
        var whole = new BinaryMetrics();
        var first = new BinaryMetrics();
        var second = new BinaryMetrics();
        for (var i = 0; i < 500; i++)
        {
            var p = (float)rng.NextDouble();
            var y = rng.NextDouble() < p ? 1f : 0f;
            whole.Add(p, y);
            (i < 200 ? first : second).Add(p, y);
        }

        first.Merge(second);

        Assert.Equal(whole.LogLoss, first.LogLoss, 1e-12);
        Assert.Equal(whole.Auc, first.Auc, 1e-12);
        Assert.Equal(whole.Examples, first.Examples);
    }

    [Fact]
    public void ProgressiveValidation_ClosesAWindowEveryWindowSizeExamples()
    {
        var validation = new ProgressiveValidation(windowSize: 100);
        var rng = new Random(9);

        for (var batch = 0; batch < 7; batch++)
        {
            var p = TestData.Uniform(rng, 40, 0.01f, 0.99f);
            validation.Add(p, [.. p.Select(v => rng.NextDouble() < v ? 1f : 0f)]);
        }

        Assert.Equal(2, validation.Windows.Count);
        Assert.Equal(100, validation.Windows[1].FirstExample);
        Assert.Equal(80, validation.Current.Examples);
        Assert.Equal(280, validation.Total.Examples);
        Assert.True(validation.Windows[0].NormalizedEntropy < 1);
    }
}
