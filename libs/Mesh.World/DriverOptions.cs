using System.ComponentModel.DataAnnotations;
using Mesh.Contracts;

namespace Mesh.World;

/// <summary>Settings of a <see cref="SyntheticDriver"/> (section <c>Driver</c>).</summary>
public sealed class DriverOptions
{
    /// <summary>Seeds the traffic stream and the click draws; with the world's seed it fixes everything. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>Rank requests per second of simulated time. Default 100.</summary>
    [Range(0.001, 1_000_000.0)]
    public double RequestsPerSecond { get; set; } = 100;

    /// <summary>Candidates sent with each rank request. Default 50.</summary>
    [Range(1, RankRequest.MaxCandidates)]
    public int CandidatesPerRequest { get; set; } = 50;

    /// <summary>Ads asked for per request (<c>k</c>), at most <see cref="CandidatesPerRequest"/>. Default 10.</summary>
    [Range(1, RankRequest.MaxK)]
    public int K { get; set; } = 10;

    /// <summary>HTTP calls in flight at once within a step. Default 4.</summary>
    [Range(1, 1_000)]
    public int MaxConcurrency { get; set; } = 4;

    /// <summary>Mean of the exponential delay between an impression and its click, in simulated time. Default 1 s.</summary>
    public TimeSpan MeanClickDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The window of the recent NE figures (<see cref="DriverStats.RecentServedNe"/>), in simulated time: what the mesh
    /// serves now, which the figures since the start average with its cold start. Default 30 s.
    /// </summary>
    public TimeSpan RecentWindow { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest interval one <see cref="SyntheticDriver.RunAsync"/> step simulates; a longer stall is not made up. Default 5 s.</summary>
    public TimeSpan MaxStep { get; set; } = TimeSpan.FromSeconds(5);
}
