using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Mesh.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Mesh.Runtime.Telemetry;

/// <summary>
/// The one place telemetry is wired: an OpenTelemetry SDK pipeline per process that listens to one
/// <see cref="ActivitySource"/> and one <see cref="Meter"/> per service (named after its app-id, <see cref="AppIds"/>)
/// and to the runtime's own (<see cref="RuntimeName"/>), plus ASP.NET Core, HttpClient and .NET runtime instrumentation.
/// Metrics are served at <c>/metrics</c> in Prometheus text format; traces and metrics go over OTLP only when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. The W3C <c>traceparent</c> travels with every invocation and event on
/// both runtimes, exported or not.
/// </summary>
public static class MeshTelemetry
{
    /// <summary>The source and meter of the runtime itself: publish, delivery and embedded invocation.</summary>
    public const string RuntimeName = "mesh.runtime";

    /// <summary>Where OTLP goes; unset (the default): nothing is exported, <c>/metrics</c> still answers.</summary>
    public const string OtlpEndpointKey = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The path Prometheus scrapes.</summary>
    public const string MetricsPath = "/metrics";

    private static readonly ConcurrentDictionary<string, ActivitySource> Sources = new(StringComparer.Ordinal);

    /// <summary>
    /// Bucket bounds of every <c>mesh.*</c> latency histogram, in seconds: 50 µs to 10 s. A hop of the mesh takes from
    /// tens of microseconds (a cache hit) to hundreds of milliseconds (a large-tier run under load); OpenTelemetry's
    /// default bounds (0 to 10,000, meant for milliseconds) would put all of them in the first bucket.
    /// </summary>
    public static readonly IReadOnlyList<double> LatencyBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Every source and meter name the pipeline listens to: the five app-ids and <see cref="RuntimeName"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. AppIds.All, RuntimeName];

    /// <summary>The activity source of <paramref name="name"/> (an app-id or <see cref="RuntimeName"/>), one per name in the process.</summary>
    public static ActivitySource Source(string name) => Sources.GetOrAdd(name, n => new ActivitySource(n));

    /// <summary>A latency histogram in seconds with <see cref="LatencyBuckets"/>.</summary>
    public static Histogram<double> CreateLatencyHistogram(this Meter meter, string name, string description) =>
        meter.CreateHistogram(name, "s", description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = LatencyBuckets });

    /// <summary>
    /// Registers the pipeline unless <c>Telemetry:Enabled</c> is false (then no listener exists and every span and
    /// instrument of the mesh costs a null check). The service name is <c>OTEL_SERVICE_NAME</c>, else daprd's
    /// <c>APP_ID</c>, else the application's name. Once per collection.
    /// </summary>
    public static IHostApplicationBuilder AddMeshTelemetry(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(TelemetryMarker)))
        {
            return builder;
        }

        services.AddSingleton<TelemetryMarker>();
        services.AddValidatedOptions<TelemetryOptions>();
        var configuration = builder.Configuration;
        if (!configuration.GetSection("Telemetry").GetValue("Enabled", defaultValue: true))
        {
            return builder;
        }

        var serviceName = configuration["OTEL_SERVICE_NAME"] is { Length: > 0 } named ? named
            : configuration["APP_ID"] is { Length: > 0 } appId ? appId
            : builder.Environment.ApplicationName;
        var otlp = !string.IsNullOrEmpty(configuration[OtlpEndpointKey]);
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithTracing(t =>
            {
                t.AddSource([.. Names])
                    .AddAspNetCoreInstrumentation(o => o.Filter = http => !IsProbe(http.Request.Path.Value))
                    .AddHttpClientInstrumentation();
                if (otlp)
                {
                    t.AddOtlpExporter();
                }
            })
            .WithMetrics(m =>
            {
                m.AddMeter([.. Names])
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                if (otlp)
                {
                    m.AddOtlpExporter();
                }
            });
        return builder;
    }

    /// <summary>Maps <see cref="MetricsPath"/> when telemetry is on.</summary>
    public static IEndpointRouteBuilder MapMeshTelemetry(this IEndpointRouteBuilder endpoints)
    {
        if (endpoints.ServiceProvider.GetRequiredService<IOptions<TelemetryOptions>>().Value.Enabled)
        {
            endpoints.MapPrometheusScrapingEndpoint(MetricsPath);
        }

        return endpoints;
    }

    /// <summary>
    /// The W3C <c>traceparent</c> of <paramref name="activity"/>, for a carrier that is not HTTP (a CloudEvent, the
    /// embedded broker's queue); null without one or when the id is not W3C.
    /// </summary>
    public static string? TraceParent(Activity? activity) =>
        activity is { IdFormat: ActivityIdFormat.W3C } ? activity.Id : null;

    /// <summary>The parent a <c>traceparent</c> names; default (a new trace) when it is missing or malformed.</summary>
    public static ActivityContext ParentOf(string? traceParent) =>
        ActivityContext.TryParse(traceParent, traceState: null, isRemote: true, out var parent) ? parent : default;

    // Probes run every few seconds on Kubernetes; a trace of each would bury the requests.
    private static bool IsProbe(string? path) =>
        path is "/healthz" or "/livez" or MetricsPath;

    private sealed class TelemetryMarker;
}

/// <summary>Telemetry settings (section <c>Telemetry</c>).</summary>
public sealed class TelemetryOptions
{
    /// <summary>
    /// Register the OpenTelemetry pipeline and serve <c>/metrics</c>. Default true; false leaves the process without
    /// listeners, which the load benchmark compares against.
    /// </summary>
    public bool Enabled { get; set; } = true;
}
