using System.ComponentModel.DataAnnotations;

namespace Mesh.World;

/// <summary>
/// Shape of a <see cref="SyntheticWorld"/> (section <c>World</c>). Every random draw derives from <see cref="Seed"/>;
/// times are simulated time. The click-model strengths are tuned together: changing one moves the CTR and the NE figures
/// that the tests pin.
/// </summary>
public sealed class WorldOptions
{
    /// <summary>The one seed of the world: population, ad churn, click model and (with the traffic seed) traffic. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Dimension D of the latent space that users, ads and categories share. Default 8.</summary>
    [Range(1, 256)]
    public int Dimensions { get; set; } = 8;

    /// <summary>Number of categories (ids <c>c00</c>, <c>c01</c>, ...). Default 24.</summary>
    [Range(1, 100)]
    public int Categories { get; set; } = 24;

    /// <summary>Number of users (ids <c>u000000</c>, ...). Default 20,000.</summary>
    [Range(1, 10_000_000)]
    public int Users { get; set; } = 20_000;

    /// <summary>Ads alive at any moment; a dying ad is replaced at once by a newborn (ids <c>a000000</c>, ...). Default 1,500.</summary>
    [Range(1, 1_000_000)]
    public int ActiveAds { get; set; } = 1_500;

    /// <summary>Mean of the exponential ad lifetime, in simulated time. Default 20 minutes.</summary>
    public TimeSpan MeanAdLifetime { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>Exponent s of the Zipf law of user activity: the user of popularity rank r starts sessions in proportion to r^-s. Default 1.1.</summary>
    [Range(0.0, 5.0)]
    public double UserZipfExponent { get; set; } = 1.1;

    /// <summary>Mean session length in requests (geometric). Default 6.</summary>
    [Range(1.0, 1_000.0)]
    public double MeanSessionLength { get; set; } = 6;

    /// <summary>Mean simulated time between two requests of one session. Default 5 s.</summary>
    public TimeSpan MeanRequestGap { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Share of a session's candidate pool replaced at each of its requests (dead ads are always replaced). Default 0.1.</summary>
    [Range(0.0, 1.0)]
    public double CandidateRefreshRate { get; set; } = 0.1;

    /// <summary>Share of candidates retrieved by noisy affinity; the rest are uniformly random alive ads. Default 0.8.</summary>
    [Range(0.0, 1.0)]
    public double AffinityShare { get; set; } = 0.8;

    /// <summary>Temperature of affinity retrieval: ads are sampled without replacement with weight exp(&lt;u, a&gt; / T). Default 0.3.</summary>
    [Range(0.001, 100.0)]
    public double RetrievalTemperature { get; set; } = 0.3;

    /// <summary>Temperature of the softmax over &lt;u, category&gt; that picks the categories of organic events. Default 0.25.</summary>
    [Range(0.001, 100.0)]
    public double OrganicTemperature { get; set; } = 0.25;

    /// <summary>Standard deviation, per dimension and simulated minute, of the random-walk step of user interests. Default 0.01.</summary>
    [Range(0.0, 10.0)]
    public double DriftStep { get; set; } = 0.01;

    /// <summary>Pull of the drift back to the user's base interest, per simulated minute (mean reversion). Default 1/360 (a 6-hour time scale).</summary>
    [Range(0.0, 1.0)]
    public double DriftReversion { get; set; } = 1.0 / 360;

    /// <summary>Hard bound on the Euclidean norm of a user's drift away from the base interest. Default 0.75.</summary>
    [Range(0.0, 100.0)]
    public double MaxDrift { get; set; } = 0.75;

    /// <summary>
    /// b0 of the click model. Default -5.9, tuned with the other defaults so that serving K random candidates of a request
    /// (what an untrained ranker does) gives a CTR of about 4%; a perfect ranker gets about 13%.
    /// </summary>
    public double BaseLogit { get; set; } = -5.9;

    /// <summary>α: weight of the latent interaction &lt;u, a&gt; in the logit. Default 2.0.</summary>
    [Range(0.0, 100.0)]
    public double Interaction { get; set; } = 2.0;

    /// <summary>Standard deviation of the fixed surface × category interaction table W. Default 0.9.</summary>
    [Range(0.0, 100.0)]
    public double SurfaceCategoryScale { get; set; } = 0.9;

    /// <summary>Standard deviation of the per-user click bias. Default 0.4.</summary>
    [Range(0.0, 100.0)]
    public double UserBiasScale { get; set; } = 0.4;

    /// <summary>Standard deviation of the per-ad quality bias. Default 0.4.</summary>
    [Range(0.0, 100.0)]
    public double AdQualityScale { get; set; } = 0.4;

    /// <summary>Amplitude of the hour-of-day effect on the logit (a 24-hour cosine peaking at 20:00). Default 0.15.</summary>
    [Range(0.0, 100.0)]
    public double HourAmplitude { get; set; } = 0.15;
}
