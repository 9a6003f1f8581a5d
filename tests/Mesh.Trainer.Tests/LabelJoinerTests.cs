using Mesh.Contracts;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Trainer.Tests;

public sealed class LabelJoinerTests
{
    // Event time of the log: years before the wall clock, as in a replay.
    private static readonly DateTimeOffset T0 = new(2024, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private readonly FakeTimeProvider _clock = TestClock.Create();
    private readonly LabelJoiner _joiner;

    public LabelJoinerTests()
    {
        _joiner = new(Microsoft.Extensions.Options.Options.Create(new TrainerOptions { LabelWindow = TimeSpan.FromSeconds(10) }), _clock);
    }

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

    internal static FeedbackReceived Feedback(string impressionId, DateTimeOffset at, FeedbackKind kind = FeedbackKind.Click) => new()
    {
        FeedbackId = "f-" + impressionId + kind,
        ImpressionId = impressionId,
        UserId = "u",
        AdId = "a",
        Kind = kind,
        OccurredAt = at,
    };

    /// <summary>Another request's impression at <paramref name="at"/>: moves the event-time watermark there.</summary>
    private void Tick(DateTimeOffset at) => _joiner.AddImpressions(Served(at, "tick-" + at.Ticks) with { RequestId = "tick", UserId = "tick" });

    private IReadOnlyList<LabelledRequest> Collect() => [.. _joiner.CollectLabelled().Where(r => r.Input.UserId != "tick")];

    [Fact]
    public void Collect_ClickInsideWindow_Positive_OthersNegative()
    {
        _joiner.AddImpressions(Served(T0, "i1", "i2"));
        _joiner.AddFeedback(Feedback("i1", T0.AddSeconds(3)));
        Tick(T0.AddSeconds(10));

        var request = Assert.Single(_joiner.CollectLabelled(), r => r.OccurredAt == T0);

        Assert.Equal([("a0", 1f), ("a1", 0f)], request.Input.Ads.Select(a => a.AdId).Zip(request.Labels));
        Assert.Equal([0.2, 0.2], request.ServedScores);
    }

    [Fact]
    public void Collect_TwoRequests_OneLabelledRequestEachOldestFirst()
    {
        _joiner.AddImpressions(Served(T0.AddSeconds(1), "i3") with { RequestId = "r2" });
        _joiner.AddImpressions(Served(T0, "i1", "i2"));
        _joiner.AddFeedback(Feedback("other", T0.AddSeconds(20)));

        var labelled = _joiner.CollectLabelled();

        Assert.Equal([T0, T0.AddSeconds(1)], labelled.Select(r => r.OccurredAt));
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
        Tick(T0.AddSeconds(10));

        var input = Assert.Single(Collect()).Input;

        Assert.Equal(("u7", served.Context), (input.UserId, input.Context));
        Assert.Equal(T0.AddSeconds(-2.5), input.At); // when user-model's tower read the sequence
        Assert.Equal(recent, input.Recent);
        Assert.Null(input.UserEmbedding); // the trainer's own tower recomputes it
        Assert.Equal([("a0", "c", true), ("a1", "c", false)], input.Ads.Select(a => (a.AdId, a.Category, a.Precomputed is not null)));
        Assert.Same(precomputed, input.Ads[0].Precomputed);
    }

    [Fact]
    public void Collect_EventTimeGiven_SequenceAgesOnEventTimeNotServedAt()
    {
        var served = Served(_clock.GetUtcNow(), "i1") with
        {
            OccurredAt = T0,
            Embedding = new ServedEmbedding { Source = EmbeddingSource.Store, Vector = new float[32], ModelVersion = 4, AgeMs = 1000 },
        };
        _joiner.AddImpressions(served);
        Tick(T0.AddSeconds(10));

        var request = Assert.Single(Collect());

        Assert.Equal(T0.AddSeconds(-1), request.Input.At);
        Assert.Equal((T0, _clock.GetUtcNow()), (request.OccurredAt, request.ServedAt));
    }

    [Fact]
    public void Collect_DefaultEmbedding_NoSequence()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        Tick(T0.AddSeconds(10));

        var input = Assert.Single(Collect()).Input;

        Assert.Empty(input.Recent);
        Assert.Equal(T0, input.At);
    }

    [Fact]
    public void Collect_BeforeWindowCloses_KeepsPending()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        Tick(T0.AddSeconds(9.9));

        Assert.Empty(Collect());
        Assert.Equal(2, _joiner.PendingCount); // i1 and the tick
    }

    [Fact]
    public void Collect_EventTimePassesWithoutWallTime_WindowCloses()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        _joiner.AddFeedback(Feedback("elsewhere", T0.AddHours(1)));

        Assert.Single(Collect());
        Assert.Equal(TestClock.Start, _clock.GetUtcNow()); // no wall time passed
    }

    [Fact]
    public void Collect_WallTimePassesWhileEventsArrive_WindowStaysOpen()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        for (var i = 1; i <= 9; i++)
        {
            // A slow replay: 9 s of wall time per second of event time, never silent for a whole window.
            _clock.Advance(TimeSpan.FromSeconds(9));
            Tick(T0.AddSeconds(i));
        }

        Assert.Empty(Collect());
        Assert.Equal(1 + 9, _joiner.PendingCount);
    }

    [Fact]
    public void Collect_SilentForAWindowOfWallTime_IdleFlushCloses()
    {
        _joiner.AddImpressions(Served(T0, "i1"));

        _clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Empty(Collect());

        _clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal([0f], Assert.Single(Collect()).Labels);
    }

    [Fact]
    public void Collect_EveryImpressionDecided_LabelledWithoutWaiting()
    {
        _joiner.AddImpressions(Served(T0, "i1", "i2", "i3"));
        _joiner.AddFeedback(Feedback("i1", T0.AddSeconds(1), FeedbackKind.NoClick));
        _joiner.AddFeedback(Feedback("i2", T0.AddSeconds(1), FeedbackKind.Click));
        Assert.Empty(Collect()); // i3 still undecided

        _joiner.AddFeedback(Feedback("i3", T0.AddSeconds(2), FeedbackKind.Conversion));

        Assert.Equal([0f, 1f, 1f], Assert.Single(Collect()).Labels);
        Assert.Equal((1, 1), (_joiner.ExplicitNegatives, _joiner.Conversions));
        Assert.Equal(0, _joiner.PendingCount);
    }

    [Fact]
    public void AddFeedback_NoClickThenClick_ClickWins()
    {
        _joiner.AddImpressions(Served(T0, "i1", "i2"));
        _joiner.AddFeedback(Feedback("i1", T0, FeedbackKind.NoClick));
        _joiner.AddFeedback(Feedback("i1", T0.AddSeconds(1), FeedbackKind.Click));
        _joiner.AddFeedback(Feedback("i1", T0.AddSeconds(2), FeedbackKind.NoClick));
        _joiner.AddFeedback(Feedback("i2", T0.AddSeconds(2), FeedbackKind.NoClick));

        Assert.Equal([1f, 0f], Assert.Single(Collect()).Labels);
    }

    [Theory]
    [InlineData(FeedbackKind.Click, 1f)]
    [InlineData(FeedbackKind.Conversion, 1f)]
    [InlineData(FeedbackKind.NoClick, 0f)]
    public void AddFeedback_BeforeItsImpression_StillJoins(FeedbackKind kind, float label)
    {
        _joiner.AddFeedback(Feedback("i1", T0, kind));
        _joiner.AddImpressions(Served(T0, "i1"));

        // Decided by the early feedback: labelled at once, no window to wait for.
        Assert.Equal([label], Assert.Single(Collect()).Labels);
        Assert.Equal(0, _joiner.LateClicks);
    }

    [Fact]
    public void AddFeedback_AfterWindowClosed_CountedLateNotTrained()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        Tick(T0.AddSeconds(10));
        Assert.Equal([0f], Assert.Single(Collect()).Labels);

        _joiner.AddFeedback(Feedback("i1", T0.AddSeconds(12)));
        Tick(T0.AddSeconds(30));

        Assert.Empty(Collect());
        Assert.Equal(1, _joiner.LateClicks);
    }

    [Fact]
    public void AddImpressions_Redelivered_CountedOnce()
    {
        _joiner.AddImpressions(Served(T0, "i1"));
        _joiner.AddImpressions(Served(T0, "i1"));
        Tick(T0.AddSeconds(10));

        Assert.Equal(1, Assert.Single(Collect()).Count);
    }
}
