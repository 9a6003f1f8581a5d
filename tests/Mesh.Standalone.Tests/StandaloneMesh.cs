using Mesh.Router.Impressions;
using Mesh.Runtime;
using Mesh.Runtime.Embedded;
using Mesh.Testing;
using Mesh.Trainer.Training;
using Mesh.World;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Mesh.Standalone.Tests;

/// <summary>
/// The standalone host in process, on a fake clock, without its own driver, persistence or summary line. The test
/// drives it with the synthetic world through the public API, one simulated step at a time, letting every queue
/// settle between steps so that the run is repeatable.
/// </summary>
public sealed class StandaloneMesh : WebApplicationFactory<StandaloneOptions>
{
    private TimeSpan _sinceCollect;

    public FakeTimeProvider Clock { get; } = TestClock.Create();

    /// <summary>More services for the host (an exporter), added last.</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Standalone:Driver", "false");
        builder.UseSetting("Standalone:DataDirectory", "");
        builder.UseSetting("Standalone:SummaryInterval", "00:00:00");
        builder.UseSetting("Trainer:LabelWindow", "00:00:05");
        builder.UseSetting("Trainer:ValidationWindow", "3000"); // the host's 4,000 would publish later in a short run
        // As the host runs (appsettings.json): the large tier rescores the best 20 of 50 with early exit.
        builder.UseSetting("Trainer:SparseLearningRate", "0.5");
        builder.UseSetting("Router:FinalStageSize", "20");
        builder.UseSetting("Router:ExitThreshold", "0.9");
        // The test collects once a simulated second itself (CollectAsync), so training keeps pace with the fake clock
        // however slow the machine; the trainer's own timer stays out of the way.
        builder.UseSetting("Trainer:CollectInterval", "1.00:00:00");
        builder.ConfigureServices(services => services.AddSingleton<TimeProvider>(Clock));
        if (ConfigureServices is { } configure)
        {
            builder.ConfigureServices(configure);
        }
    }

    public SyntheticDriver CreateDriver(int seed = 7) => new(
        new SyntheticWorld(new WorldOptions { Seed = seed }, Clock.GetUtcNow()),
        CreateClient(),
        Clock,
        new DriverOptions { Seed = seed, RequestsPerSecond = 100, CandidatesPerRequest = 50, K = 10, RecentWindow = TimeSpan.FromSeconds(10) });

    /// <summary>
    /// Advances the clock by <paramref name="step"/>, drives that much traffic, and waits until the mesh is quiet; once
    /// a simulated second, the trainer takes the labels due and the mesh settles again (a publish reloads the models).
    /// </summary>
    public async Task StepAsync(SyntheticDriver driver, TimeSpan step)
    {
        Clock.Advance(step);
        await driver.StepAsync(step);
        await SettleAsync();
        _sinceCollect += step;
        if (_sinceCollect >= TimeSpan.FromSeconds(1))
        {
            _sinceCollect = TimeSpan.Zero;
            await Services.GetRequiredService<StreamingTrainer>().CollectAsync(CancellationToken.None);
            await SettleAsync();
        }
    }

    /// <summary>Waits until impressions are published and every event is delivered (publishes cascade, so loop).</summary>
    public async Task SettleAsync()
    {
        var broker = Services.GetRequiredService<EmbeddedBroker>();
        var impressions = Services.GetRequiredService<ImpressionQueue>();
        do
        {
            await impressions.WhenPublishedAsync();
            await broker.WaitForIdleAsync();
        }
        while (!impressions.WhenPublishedAsync().IsCompleted);
    }

    /// <summary>Closes every label window still open and lets the trainer take what is due.</summary>
    public async Task FinishLabelsAsync()
    {
        Clock.Advance(TimeSpan.FromSeconds(6));
        await SettleAsync();
        await Services.GetRequiredService<StreamingTrainer>().CollectAsync(CancellationToken.None);
        await SettleAsync();
    }

    public DeliveryMetrics Delivery => Services.GetRequiredService<DeliveryMetrics>();
}
