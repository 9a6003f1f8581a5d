using Mesh.Contracts;
using Mesh.Trainer.Training;

namespace Mesh.Trainer.Tests;

public sealed class LabelJoinerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 5, 12, 0, 0, TimeSpan.Zero);

    private readonly LabelJoiner _joiner = new(Microsoft.Extensions.Options.Options.Create(new TrainerOptions { LabelWindow = TimeSpan.FromSeconds(10) }));

    internal static ImpressionsServed Served(DateTimeOffset at, params string[] impressionIds) => new()
    {
        RequestId = "r",
        UserId = "u",
        ServedAt = at,
        Context = new RankContext(),
        ModelVersion = 1,
        Tier = Tiers.Large,
        Embedding = new ServedEmbedding { Source = EmbeddingSource.Default, Vector = [], ModelVersion = 0 },
        CandidateCount = impressionIds.Length,
        Items = [.. impressionIds.Select((id, i) => new ServedImpression { ImpressionId = id, AdId = "a" + i, Category = "c", Position = i, Score = 0.2 })],
    };

    private static FeedbackReceived Click(string impressionId, DateTimeOffset at) => new()
    {
        FeedbackId = "f-" + impressionId,
        ImpressionId = impressionId,
        UserId = "u",
        AdId = "a",
        OccurredAt = at,
    };

    [Fact]
    public void Collect_ClickInsideWindow_Positive_OthersNegative()
    {
        _joiner.AddImpressions(Served(T0, "i1", "i2"));
        _joiner.AddFeedback(Click("i1", T0.AddSeconds(3)));

        var labelled = _joiner.CollectLabelled(T0.AddSeconds(10));

        Assert.Equal([("a0", true), ("a1", false)], labelled.Select(e => (e.Input.AdId, e.Clicked)).OrderBy(x => x.AdId));
        Assert.All(labelled, e => Assert.Equal(0.2, e.ServedScore));
    }

    [Fact]
    public void Collect_BeforeWindowCloses_KeepsPending()
    {
        _joiner.AddImpressions(Served(T0, "i1"));

        Assert.Empty(_joiner.CollectLabelled(T0.AddSeconds(9.9)));
        Assert.Equal(1, _joiner.PendingCount);
    }

    [Fact]
    public void AddFeedback_BeforeItsImpression_StillJoins()
    {
        _joiner.AddFeedback(Click("i1", T0));
        _joiner.AddImpressions(Served(T0, "i1"));

        Assert.True(Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10))).Clicked);
    }

    [Fact]
    public void AddFeedback_AfterWindowClosed_CountedLateNotTrained()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        Assert.False(Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10))).Clicked);

        _joiner.AddFeedback(Click("i1", T0.AddSeconds(12)));
        var later = _joiner.CollectLabelled(T0.AddSeconds(30));

        Assert.Empty(later);
        Assert.Equal(1, _joiner.LateClicks);
    }

    [Fact]
    public void AddImpressions_Redelivered_CountedOnce()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        _joiner.AddImpressions(Served(T0, "i1"));

        Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10)));
    }
}
