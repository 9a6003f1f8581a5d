using Mesh.Dapr;
using Mesh.Dapr.Embedded;
using Mesh.Router.Impressions;
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
    public FakeTimeProvider Clock { get; } = TestClock.Create();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Standalone:Driver", "false");
        builder.UseSetting("Standalone:DataDirectory", "");
        builder.UseSetting("Standalone:SummaryInterval", "00:00:00");
        builder.UseSetting("Trainer:LabelWindow", "00:00:05");
        builder.UseSetting("Trainer:ValidationWindow", "2000");
        builder.ConfigureServices(services => services.AddSingleton<TimeProvider>(Clock));
    }

    public SyntheticDriver CreateDriver(int seed = 7) => new(
        new SyntheticWorld(new WorldOptions { Seed = seed }, Clock.GetUtcNow()),
        CreateClient(),
        Clock,
        new DriverOptions { Seed = seed, RequestsPerSecond = 100, CandidatesPerRequest = 50, K = 10 });

    /// <summary>Advances the clock by <paramref name="step"/>, drives that much traffic, and waits until the mesh is quiet.</summary>
    public async Task StepAsync(SyntheticDriver driver, TimeSpan step)
    {
        Clock.Advance(step);
        await driver.StepAsync(step);
        await SettleAsync();
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
