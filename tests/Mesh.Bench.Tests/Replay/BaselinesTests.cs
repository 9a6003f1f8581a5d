using Mesh.Bench.Replay;
using Mesh.Contracts;

namespace Mesh.Bench.Tests.Replay;

public class BaselinesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    internal static LogImpression Impression(string item, bool click, string user = "u1", int second = 0, string? request = null, string segment = "s1") =>
        new(second + 2, user, item, T0.AddSeconds(second), click, request, "c1",
            new Dictionary<string, FeatureValue> { ["segment"] = FeatureValue.Categorical(segment) },
            new Dictionary<string, FeatureValue> { ["price"] = FeatureValue.Numeric(9) }, null);

    private static ReplayRequest RequestOf(LogImpression i) => new(0, i.Time, i.UserId, i.Context, [i]);

    private static double PredictThenLearn(IOnlinePredictor model, LogImpression i)
    {
        var request = RequestOf(i);
        var p = model.Predict(request, i);
        model.Learn(request, i);
        return p;
    }

    [Fact]
    public void BaseRate_Stream_IsTheRunningRateWithAHalfPseudoCount()
    {
        var model = new BaseRatePredictor();

        // (clicks + 0.5) / (impressions + 1) before each label: 0.5, 0.75, 0.5, 0.375.
        double[] predictions = [.. new[] { true, false, false, true }.Select(c => PredictThenLearn(model, Impression("a", c)))];

        Assert.Equal([0.5, 0.75, 0.5, 0.375], predictions);
    }

    [Fact]
    public void ItemRate_NewAndSeenItems_ShrinksTowardsTheBaseRate()
    {
        var model = new ItemRatePredictor(priorStrength: 2);
        PredictThenLearn(model, Impression("a", true));
        PredictThenLearn(model, Impression("a", true));
        PredictThenLearn(model, Impression("b", false));

        // Base rate after 2 clicks in 3: (2 + 0.5) / 4 = 0.625.
        // a: (2 + 2·0.625) / (2 + 2) = 0.8125; a new item: the base rate.
        Assert.Equal(0.8125, model.Predict(RequestOf(Impression("a", false)), Impression("a", false)), 12);
        Assert.Equal(0.625, model.Predict(RequestOf(Impression("new", false)), Impression("new", false)), 12);
        Assert.Equal((0 + (2 * 0.625)) / 3, model.Predict(RequestOf(Impression("b", false)), Impression("b", false)), 12);
    }

    [Fact]
    public void FtrlLogistic_UserItemCross_LearnsWhatNoSingleIdExplains()
    {
        // u1 clicks a and never b; u2 the opposite. Users and items are each clicked half the time: only the
        // user × item cross separates them.
        var model = new FtrlLogisticPredictor(new Dictionary<string, FeatureTransform> { ["price"] = FeatureTransform.Log1p }, seed: 7);
        for (var round = 0; round < 1000; round++)
        {
            PredictThenLearn(model, Impression("a", true, "u1"));
            PredictThenLearn(model, Impression("b", false, "u1"));
            PredictThenLearn(model, Impression("a", false, "u2"));
            PredictThenLearn(model, Impression("b", true, "u2"));
        }

        var u1a = Impression("a", false, "u1");
        var u1b = Impression("b", false, "u1");
        var (pa, pb) = (model.Predict(RequestOf(u1a), u1a), model.Predict(RequestOf(u1b), u1b));
        Assert.True(pa > 0.7 && pb < 0.3, $"p(u1, a) {pa:F3}, p(u1, b) {pb:F3}");
    }

    [Fact]
    public void FtrlLogistic_SameSeedSameStream_SamePredictions()
    {
        static double[] Run(int seed)
        {
            var model = new FtrlLogisticPredictor(new Dictionary<string, FeatureTransform>(), seed);
            return [.. Enumerable.Range(0, 200).Select(i => PredictThenLearn(model, Impression("a" + (i % 7), i % 5 == 0, "u" + (i % 3), segment: "s" + (i % 2))))];
        }

        Assert.Equal(Run(3), Run(3));
        Assert.Equal(0.5, Run(3)[0]); // no weight yet
    }
}
