using System.Diagnostics.Metrics;
using Mesh.Runtime.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime.Tests.Telemetry;

public sealed class StatsInstrumentsTests
{
    [Fact]
    public async Task AddStatsInstruments_Collected_ReportsTheContributorsFiguresByPathAndTag()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddSingleton<Contributor>();
        builder.Services.AddStatsInstruments<Contributor>("test-stats",
            new StatsInstrument("mesh.test.count", "{x}", "d", Monotonic: true, new StatsReading("outer.count")),
            new StatsInstrument("mesh.test.ne", "1", "d", Monotonic: false, new StatsReading("ne", "of", "served"), new StatsReading("outer.missing", "of", "gone")));
        using var host = builder.Build();
        await host.StartAsync();
        var seen = new List<(string Name, double Value, string? Tag)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "test-stats")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) =>
            seen.Add((instrument.Name, value, tags.Length == 0 ? null : tags[0].Value as string)));
        listener.Start();

        listener.RecordObservableInstruments();

        Assert.Equal([("mesh.test.count", 42.0, (string?)null), ("mesh.test.ne", 0.75, "served")], seen.OrderBy(s => s.Name, StringComparer.Ordinal));
        await host.StopAsync();
    }

    private sealed class Contributor : IStatsContributor
    {
        public void Contribute(IDictionary<string, object?> stats)
        {
            stats["outer"] = new { count = 42L };
            stats["ne"] = 0.75;
        }
    }
}
