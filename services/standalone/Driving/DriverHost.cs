using Mesh.Runtime;
using Mesh.World;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Mesh.Standalone.Driving;

/// <summary>
/// Runs the synthetic ad world's driver against this host's own public API once it listens, as an outside client
/// would, and reports the world's view (the optimal NE only the world knows) in <c>/v1/stats</c>.
/// </summary>
public sealed class DriverHost(
    IServer server,
    IHostApplicationLifetime lifetime,
    IOptions<WorldOptions> worldOptions,
    IOptions<DriverOptions> driverOptions,
    TimeProvider clock,
    ILogger<DriverHost> logger) : BackgroundService, IStatsContributor
{
    private SyntheticDriver? _driver;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(started.SetResult))
        {
            await started.Task.WaitAsync(stoppingToken);
        }

        var address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server has no address to drive.");
        var baseAddress = new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        using var http = new HttpClient { BaseAddress = baseAddress };
        var world = new SyntheticWorld(worldOptions.Value, clock.GetUtcNow());
        Volatile.Write(ref _driver, new SyntheticDriver(world, http, clock, driverOptions.Value));
        logger.LogInformation("Synthetic driver: {Rate} requests/s of {Candidates} candidates against {Address}",
            driverOptions.Value.RequestsPerSecond, driverOptions.Value.CandidatesPerRequest, baseAddress);
        try
        {
            await _driver!.RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public void Contribute(IDictionary<string, object?> stats)
    {
        if (Volatile.Read(ref _driver) is not { } driver)
        {
            return;
        }

        var s = driver.Stats;
        stats["optimalNe"] = Finite(s.OptimalNe.Value);
        stats["recentServedNe"] = Finite(s.RecentServedNe.Value);
        stats["recentOptimalNe"] = Finite(s.RecentOptimalNe.Value);
        stats["driver"] = new
        {
            requestsSent = s.RequestsSent,
            requestsFailed = s.RequestsFailed,
            eventsSent = s.EventsSent,
            impressions = s.Impressions,
            clicks = s.Clicks,
            feedbackSent = s.FeedbackSent,
            servedNe = Finite(s.ServedNe.Value),
            baseRateNe = Finite(s.BaseRateNe.Value),
            optimalNe = Finite(s.OptimalNe.Value),
            recentWindowSeconds = driverOptions.Value.RecentWindow.TotalSeconds,
            recentServedNe = Finite(s.RecentServedNe.Value),
            recentOptimalNe = Finite(s.RecentOptimalNe.Value),
        };
    }

    private static double? Finite(double value) => double.IsFinite(value) ? Math.Round(value, 4) : null;
}
