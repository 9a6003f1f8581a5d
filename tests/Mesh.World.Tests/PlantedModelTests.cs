using System.Globalization;
using Mesh.Learning.Metrics;

namespace Mesh.World.Tests;

/// <summary>The planted click model on driver-like traffic of the default world (seed 1).</summary>
[Trait("Category", "Slow")]
public class PlantedModelTests(DefaultServedTraffic fixture) : IClassFixture<DefaultServedTraffic>
{
    private readonly ServedTraffic _traffic = fixture.Traffic;

    [Fact]
    public void Ctr_RandomServing_IsThreeToFivePercent()
    {
        // Measured: 4.43% served at random; a perfect ranker (top 10 of 50 by true p) would get 13.6%.
        var ctr = _traffic.Ctr;
        Assert.True(ctr is > 0.03 and < 0.05, Message("CTR {0:P2} (oracle top-K {1:P2})", ctr, _traffic.OracleCtr));
    }

    [Fact]
    public void OptimalNe_IsClearlyBelowOne()
    {
        // Measured: 0.733 over 200k impressions. The true p is the best any model can do, so this is the floor.
        var ne = new BinaryMetrics();
        foreach (var i in _traffic.Impressions)
        {
            ne.Add((float)i.TrueP, i.Clicked ? 1f : 0f);
        }

        var value = ne.NormalizedEntropy;
        Assert.True(value < 0.85, Message("optimal NE {0:F4}", value));
    }

    [Fact]
    public void OneHotLogisticRegression_ClosesClearlyLessThanTheOptimalGap()
    {
        // Measured on the second half of the stream: LR NE 0.871 vs optimal 0.737, so LR closes 49% of (1 - optimal NE);
        // the learning rate 0.15 was the best of 0.02-0.8. The rest needs the interactions α<u, a> and W[surface, category].
        var (lrNe, optimalNe) = ProgressiveLogisticRegression(_traffic.Impressions);
        var closed = (1 - lrNe) / (1 - optimalNe);
        var message = Message("LR NE {0:F4}, optimal NE {1:F4}, gap closed {2:P1}", lrNe, optimalNe, closed);
        Assert.True(closed < 0.70, message);
        Assert.True(closed > 0.2, message); // the regression is learning something: biases are real signal too
    }

    [Fact]
    public void OneHotLogisticRegression_InAnAdditiveWorld_ClosesMostOfTheGap()
    {
        // Control for the test above: with no interactions (α = 0, W = 0) and stronger biases, the same regression closes
        // most of the gap (measured: LR NE 0.856 vs optimal 0.803, 73%), so its shortfall in the default world is the interactions, not the learner.
        // What it still misses here is sparsity: tail users and newborn ads with few impressions.
        var additive = ServedTraffic.Generate(new WorldOptions
        {
            Interaction = 0,
            SurfaceCategoryScale = 0,
            UserBiasScale = 1.0,
            AdQualityScale = 1.0,
            BaseLogit = -3.6,
        });
        var (lrNe, optimalNe) = ProgressiveLogisticRegression(additive.Impressions);
        var closed = (1 - lrNe) / (1 - optimalNe);
        Assert.True(closed > 0.6, Message("LR NE {0:F4}, optimal NE {1:F4}, gap closed {2:P1}", lrNe, optimalNe, closed));
    }

    [Fact]
    public void Candidates_RecurForTheSameUserWithinTwoMinutes()
    {
        // Measured: 85.5% of candidates were already a candidate of the same user in the previous 2 minutes (sticky
        // session pools plus Zipf-heavy users), which is what a (user, ad) precompute cache can exploit.
        Assert.True(_traffic.PairRecurrence > 0.75, Message("pair recurrence {0:P1}", _traffic.PairRecurrence));
    }

    /// <summary>
    /// One pass of logistic regression on one-hot raw ids (user, ad, category, surface, device, plus a bias), AdaGrad
    /// steps, progressive validation (predict, then learn). Returns NE of the model and of the true p over the second
    /// half of the stream, once the model has warmed up.
    /// </summary>
    private static (double LrNe, double OptimalNe) ProgressiveLogisticRegression(IReadOnlyList<Impression> impressions)
    {
        const double LearningRate = 0.15;
        var weights = new Dictionary<string, double>(StringComparer.Ordinal);
        var squaredGradients = new Dictionary<string, double>(StringComparer.Ordinal);
        var lr = new BinaryMetrics();
        var optimal = new BinaryMetrics();
        var features = new string[6];
        for (var n = 0; n < impressions.Count; n++)
        {
            var i = impressions[n];
            features[0] = "bias";
            features[1] = "u:" + i.UserId;
            features[2] = "a:" + i.AdId;
            features[3] = "c:" + i.Category;
            features[4] = "s:" + i.Surface;
            features[5] = "d:" + i.Device;

            var z = 0.0;
            foreach (var f in features)
            {
                z += weights.GetValueOrDefault(f);
            }

            var p = 1 / (1 + Math.Exp(-z));
            if (n >= impressions.Count / 2)
            {
                lr.Add((float)p, i.Clicked ? 1f : 0f);
                optimal.Add((float)i.TrueP, i.Clicked ? 1f : 0f);
            }

            var g = p - (i.Clicked ? 1 : 0); // d(log loss)/dz; each one-hot feature's gradient is g
            foreach (var f in features)
            {
                var g2 = squaredGradients.GetValueOrDefault(f) + (g * g);
                squaredGradients[f] = g2;
                weights[f] = weights.GetValueOrDefault(f) - (LearningRate * g / Math.Sqrt(g2 + 1e-6));
            }
        }

        return (lr.NormalizedEntropy, optimal.NormalizedEntropy);
    }

    private static string Message(string format, params object[] args) => string.Format(CultureInfo.InvariantCulture, format, args);
}
