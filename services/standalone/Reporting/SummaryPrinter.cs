using System.Globalization;
using Mesh.Runtime;
using Mesh.World;
using Microsoft.Extensions.Options;

namespace Mesh.Standalone.Reporting;

/// <summary>Logs one line of the mesh's vital signs every <see cref="StandaloneOptions.SummaryInterval"/>.</summary>
public sealed class SummaryPrinter(
    IEnumerable<IStatsContributor> contributors,
    IOptions<StandaloneOptions> options,
    IOptions<DriverOptions> driverOptions,
    TimeProvider clock,
    ILogger<SummaryPrinter> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SummaryInterval, clock);
        var window = driverOptions.Value.RecentWindow;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var stats = new Dictionary<string, object?>(StringComparer.Ordinal);
                foreach (var contributor in contributors)
                {
                    contributor.Contribute(stats);
                }

                logger.LogInformation(
                    "{Requests} requests | p50 {P50} ms p99 {P99} ms | embedding cache {CacheHit} | precompute {PrecomputeHit} | model v{Model} | NE served {Served} optimal {Optimal} | last {Window} s: served {RecentServed} optimal {RecentOptimal}",
                    stats.GetValueOrDefault("requests"),
                    stats.GetValueOrDefault("p50Ms"),
                    stats.GetValueOrDefault("p99Ms"),
                    Percent(stats.GetValueOrDefault("embeddingCacheHitRate")),
                    Percent(stats.GetValueOrDefault("precomputeHitRate")),
                    stats.GetValueOrDefault("modelVersion"),
                    Number(stats.GetValueOrDefault("servedNe")),
                    Number(stats.GetValueOrDefault("optimalNe")),
                    window.TotalSeconds,
                    Number(stats.GetValueOrDefault("recentServedNe")),
                    Number(stats.GetValueOrDefault("recentOptimalNe")));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static string Percent(object? rate) => rate is double r ? r.ToString("P0", CultureInfo.InvariantCulture) : "-";

    private static string Number(object? value) => value is double d ? d.ToString("F3", CultureInfo.InvariantCulture) : "-";
}
