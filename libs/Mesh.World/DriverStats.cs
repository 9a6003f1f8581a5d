namespace Mesh.World;

/// <summary>Running totals of a <see cref="SyntheticDriver"/> since it was created.</summary>
public sealed record DriverStats
{
    /// <summary>Rank requests sent, failed ones included.</summary>
    public long RequestsSent { get; init; }

    /// <summary>Rank requests that got a non-2xx status, no answer, or an unreadable body.</summary>
    public long RequestsFailed { get; init; }

    public long EventsSent { get; init; }
    public long EventsFailed { get; init; }

    /// <summary>Ads served: items of successful rank responses that were among the request's candidates.</summary>
    public long Impressions { get; init; }

    public long Clicks { get; init; }

    /// <summary>Feedback posts sent (failed ones included; a failed one is not retried).</summary>
    public long FeedbackSent { get; init; }

    public long FeedbackFailed { get; init; }

    /// <summary>Clicks drawn whose due time the clock has not reached yet.</summary>
    public long FeedbackPending { get; init; }

    /// <summary>The served <c>score</c> against the drawn click, over all impressions.</summary>
    public Ne ServedNe { get; init; }

    /// <summary>Always predicting the observed click rate: 1.0 by definition, computed as a check.</summary>
    public Ne BaseRateNe { get; init; }

    /// <summary>The planted click probability against the drawn click: the best any model can do.</summary>
    public Ne OptimalNe { get; init; }

    /// <summary><see cref="ServedNe"/> over the impressions of the last <see cref="DriverOptions.RecentWindow"/> only.</summary>
    public Ne RecentServedNe { get; init; }

    /// <summary><see cref="OptimalNe"/> over the same impressions as <see cref="RecentServedNe"/>.</summary>
    public Ne RecentOptimalNe { get; init; }
}

/// <summary>What one <see cref="SyntheticDriver.StepAsync"/> did, over the simulated interval (<see cref="From"/>, <see cref="To"/>].</summary>
public sealed record DriverStepReport
{
    public required DateTimeOffset From { get; init; }
    public required DateTimeOffset To { get; init; }
    public required int Requests { get; init; }
    public required int RequestsFailed { get; init; }

    /// <summary>Organic events posted (failed posts included).</summary>
    public required int Events { get; init; }
    public required int Impressions { get; init; }
    public required int Clicks { get; init; }
    public required int FeedbackSent { get; init; }

    /// <summary>Clicks still waiting for their due time after this step.</summary>
    public required int FeedbackPending { get; init; }
}
