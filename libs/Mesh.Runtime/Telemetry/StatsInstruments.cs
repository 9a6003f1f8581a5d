using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Mesh.Runtime.Telemetry;

/// <summary>
/// One figure of <c>/v1/stats</c> read by an observable instrument: <see cref="Path"/> is its dotted path in what the
/// contributor writes (<c>trainer.trainedExamples</c>); <see cref="Tag"/> and <see cref="Value"/>, when set, label it,
/// so several paths can feed one instrument (NE per tier). A path that is missing or not a number is skipped.
/// </summary>
public sealed record StatsReading(string Path, string? Tag = null, string? Value = null);

/// <summary>An observable instrument over <see cref="StatsReading"/>s: a counter when <see cref="Monotonic"/>, else a gauge.</summary>
public sealed record StatsInstrument(string Name, string Unit, string Description, bool Monotonic, params StatsReading[] Readings);

/// <summary>
/// Observable instruments read from a service's <see cref="IStatsContributor"/> when the pipeline collects (a scrape,
/// an OTLP export): how services whose counters live inside their own classes (trainer, precompute, user-model) report
/// them without a second set of counters, so <c>/v1/stats</c> and <c>/metrics</c> show the same numbers. A collection
/// asks the contributor once however many instruments read it (a snapshot is reused for 100 ms).
/// </summary>
public static class StatsInstrumentRegistration
{
    /// <summary>Creates <paramref name="instruments"/> on the meter <paramref name="meterName"/> when the host starts.</summary>
    public static IServiceCollection AddStatsInstruments<TContributor>(this IServiceCollection services, string meterName, params StatsInstrument[] instruments)
        where TContributor : class, IStatsContributor
    {
        // Not AddHostedService: it adds one hosted service per implementation type, and every service's observer is one type.
        services.AddSingleton<IHostedService>(sp => new Observer(sp.GetRequiredService<IMeterFactory>().Create(meterName), sp.GetRequiredService<TContributor>(), instruments));
        return services;
    }

    private sealed class Observer : IHostedService
    {
        private static readonly long SnapshotTicks = Stopwatch.Frequency / 10;

        private readonly IStatsContributor _contributor;
        private readonly Lock _lock = new();
        private JsonElement _snapshot;
        private long? _takenAt;

        public Observer(Meter meter, IStatsContributor contributor, IReadOnlyList<StatsInstrument> instruments)
        {
            _contributor = contributor;
            foreach (var instrument in instruments)
            {
                if (instrument.Monotonic)
                {
                    meter.CreateObservableCounter(instrument.Name, () => Read(instrument), instrument.Unit, instrument.Description);
                }
                else
                {
                    meter.CreateObservableGauge(instrument.Name, () => Read(instrument), instrument.Unit, instrument.Description);
                }
            }
        }

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        private IEnumerable<Measurement<double>> Read(StatsInstrument instrument)
        {
            var stats = Snapshot();
            foreach (var reading in instrument.Readings)
            {
                if (Find(stats, reading.Path) is { ValueKind: JsonValueKind.Number } value)
                {
                    yield return reading.Tag is null
                        ? new Measurement<double>(value.GetDouble())
                        : new Measurement<double>(value.GetDouble(), new KeyValuePair<string, object?>(reading.Tag, reading.Value));
                }
            }
        }

        private JsonElement Snapshot()
        {
            lock (_lock)
            {
                var now = Stopwatch.GetTimestamp();
                if (_takenAt is not { } taken || now - taken > SnapshotTicks)
                {
                    var stats = new Dictionary<string, object?>(StringComparer.Ordinal);
                    _contributor.Contribute(stats);
                    _snapshot = JsonSerializer.SerializeToElement(stats);
                    _takenAt = now;
                }

                return _snapshot;
            }
        }

        private static JsonElement? Find(JsonElement root, string path)
        {
            var at = root;
            foreach (var name in path.Split('.'))
            {
                if (at.ValueKind != JsonValueKind.Object || !at.TryGetProperty(name, out at))
                {
                    return null;
                }
            }

            return at;
        }
    }
}
