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

        var request = Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10)));

        Assert.Equal([("a0", 1f), ("a1", 0f)], request.Input.Ads.Select(a => a.AdId).Zip(request.Labels));
        Assert.Equal([0.2, 0.2], request.ServedScores);
    }

    [Fact]
    public void Collect_TwoRequests_OneLabelledRequestEachOldestFirst()
    {
        _joiner.AddImpressions(Served(T0.AddSeconds(1), "i3") with { RequestId = "r2" });
        _joiner.AddImpressions(Served(T0, "i1", "i2"));

        var labelled = _joiner.CollectLabelled(T0.AddSeconds(20));

        Assert.Equal([T0, T0.AddSeconds(1)], labelled.Select(r => r.ServedAt));
        Assert.Equal([2, 1], labelled.Select(r => r.Count));
        Assert.Equal(0, _joiner.PendingCount);
    }

    [Fact]
    public void Collect_Input_WhatServingUsedWithTheSequenceAsOfTheEmbedding()
    {
        RecentEvent[] recent = [new() { Category = "shoes", Kind = UserActionKind.Engage, OccurredAt = T0.AddMinutes(-3) }];
        float[] precomputed = [.. Enumerable.Repeat(0.5f, 32)];
        var served = Served(T0, "i1", "i2") with
        {
            UserId = "u7",
            Context = new RankContext { Surface = "stories", Device = "ios", Hour = 21 },
            Embedding = new ServedEmbedding { Source = EmbeddingSource.DirectCache, Vector = new float[32], ModelVersion = 4, AgeMs = 2500, Recent = recent },
        };
        served = served with { Items = [served.Items[0] with { Precomputed = precomputed }, served.Items[1]] };
        _joiner.AddImpressions(served);

        var input = Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10))).Input;

        Assert.Equal(("u7", served.Context), (input.UserId, input.Context));
        Assert.Equal(T0.AddSeconds(-2.5), input.At); // when user-model's tower read the sequence
        Assert.Equal(recent, input.Recent);
        Assert.Null(input.UserEmbedding); // the trainer's own tower recomputes it
        Assert.Equal([("a0", "c", true), ("a1", "c", false)], input.Ads.Select(a => (a.AdId, a.Category, a.Precomputed is not null)));
        Assert.Same(precomputed, input.Ads[0].Precomputed);
    }

    [Fact]
    public void Collect_DefaultEmbedding_NoSequence()
    {
        _joiner.AddImpressions(Served(T0, "i1"));

        var input = Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10))).Input;

        Assert.Empty(input.Recent);
        Assert.Equal(T0, input.At);
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

        Assert.Equal([1f], Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10))).Labels);
    }

    [Fact]
    public void AddFeedback_AfterWindowClosed_CountedLateNotTrained()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        Assert.Equal([0f], Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10))).Labels);

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

        Assert.Equal(1, Assert.Single(_joiner.CollectLabelled(T0.AddSeconds(10))).Count);
    }
}
