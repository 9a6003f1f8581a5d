using System.ComponentModel.DataAnnotations;

namespace Mesh.World;

/// <summary>
/// Shape of a <see cref="RealisticWorld"/>: an impression log that looks more like a real one than the
/// <see cref="SyntheticWorld"/> does (a click rate of a few percent, user and item features, many new users and items
/// over days of event time). Every draw derives from <see cref="Seed"/>. The click-model strengths are tuned together
/// with <see cref="BaseLogit"/>: changing one moves the click rate the tests pin.
/// </summary>
public sealed class RealisticWorldOptions
{
    /// <summary>The one seed of the log. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Event time of the first request. Default 2026-01-05 00:00 UTC (a Monday).</summary>
    public DateTimeOffset Start { get; set; } = new(2026, 1, 5, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Days of event time the requests spread over, evenly (with jitter). Default 7.</summary>
    [Range(1, 365)]
    public int Days { get; set; } = 7;

    /// <summary>Impressions in the log: requests × <see cref="CandidatesPerRequest"/>, the last request cut short. Default 30,000.</summary>
    [Range(1, 10_000_000)]
    public int Impressions { get; set; } = 30_000;

    /// <summary>Items shown per request, at positions 1 to this; all are logged, clicked or not. Default 5.</summary>
    [Range(1, 100)]
    public int CandidatesPerRequest { get; set; } = 5;

    /// <summary>Users that exist before the first request (ids <c>u000000</c>, ...). Default 1,000.</summary>
    [Range(1, 1_000_000)]
    public int InitialUsers { get; set; } = 1_000;

    /// <summary>Share of requests that come from a user never seen before (cold start, all through the log). Default 0.2.</summary>
    [Range(0.0, 1.0)]
    public double NewUserShare { get; set; } = 0.2;

    /// <summary>Items alive at the start (ids <c>i000000</c>, ...). Default 300.</summary>
    [Range(1, 1_000_000)]
    public int InitialItems { get; set; } = 300;

    /// <summary>Items born per day of event time (a Poisson process). Default 400.</summary>
    [Range(0.0, 1_000_000.0)]
    public double NewItemsPerDay { get; set; } = 400;

    /// <summary>Mean of the exponential item lifetime. Default 2 days: with 400 births a day about 800 items are alive.</summary>
    public TimeSpan MeanItemLifetime { get; set; } = TimeSpan.FromDays(2);

    /// <summary>User segments (context feature <c>segment</c>, <c>s0</c>..). Default 8.</summary>
    [Range(1, 1_000)]
    public int Segments { get; set; } = 8;

    /// <summary>Age buckets (context feature <c>age</c>, <c>a0</c>..). Default 6.</summary>
    [Range(1, 100)]
    public int AgeBuckets { get; set; } = 6;

    /// <summary>Regions (context feature <c>region</c>, <c>r00</c>..). Default 12.</summary>
    [Range(1, 1_000)]
    public int Regions { get; set; } = 12;

    /// <summary>Item categories (<c>c00</c>..). Default 20.</summary>
    [Range(1, 1_000)]
    public int Categories { get; set; } = 20;

    /// <summary>Item tags (candidate feature <c>tags</c>, 1 to 3 per item, <c>t00</c>..). Default 40.</summary>
    [Range(3, 10_000)]
    public int Tags { get; set; } = 40;

    /// <summary>b0 of the click model. Default -4.9, tuned with the defaults below for a click rate near 2.3% (seed 1, 30,000 impressions: 2.25%).</summary>
    public double BaseLogit { get; set; } = -4.9;

    /// <summary>Logit lost per position below the first (position 1 is the best slot). Default 0.3.</summary>
    [Range(0.0, 10.0)]
    public double PositionDecay { get; set; } = 0.3;

    /// <summary>Standard deviation of the segment × category table. Default 1.2.</summary>
    [Range(0.0, 10.0)]
    public double SegmentCategoryScale { get; set; } = 1.2;

    /// <summary>Standard deviation of the age bucket × tag table (averaged over an item's tags). Default 1.3.</summary>
    [Range(0.0, 10.0)]
    public double AgeTagScale { get; set; } = 1.3;

    /// <summary>Standard deviation of each region's slope on the centred log price. Default 0.8.</summary>
    [Range(0.0, 10.0)]
    public double RegionPriceScale { get; set; } = 0.8;

    /// <summary>Weight of the personal taste &lt;user, item&gt; in a 4-dimensional latent space. Default 1.0.</summary>
    [Range(0.0, 10.0)]
    public double TasteInteraction { get; set; } = 1.0;

    /// <summary>Standard deviation of the per-user click bias. Default 0.4.</summary>
    [Range(0.0, 10.0)]
    public double UserBiasScale { get; set; } = 0.4;

    /// <summary>Standard deviation of the per-item quality bias. Default 0.4.</summary>
    [Range(0.0, 10.0)]
    public double ItemQualityScale { get; set; } = 0.4;
}
