using System.Diagnostics;
using Mesh.Runtime.Telemetry;
using Mesh.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Tests.Telemetry;

/// <summary>The embedded runtime carries the W3C trace context as daprd does: from publisher to handler, caller to callee.</summary>
public sealed class TracePropagationTests
{
    private const string TestSource = "mesh.runtime.tests";

    private static readonly ActivitySource Test = new(TestSource);

    [Fact]
    public async Task PublishAsync_InsideASpan_HandlerRunsInThatTraceAndContextCarriesTraceparent()
    {
        await using var host = await EmbeddedHost.StartAsync(s => s.AddSubscription<Probe, TraceRecorder>("observer", "probes"));
        using var listener = ListenToTest();
        ActivityTraceId traceId;
        using (var root = Test.StartActivity("root")!)
        {
            traceId = root.TraceId;
            await host.Publisher.PublishAsync("probes", new Probe(1));
        }

        await host.Broker.WaitForIdleAsync();

        var (seen, context) = Assert.Single(host.Services.GetRequiredService<TraceRecorder>().Seen);
        Assert.Equal(traceId, seen);
        Assert.Equal(traceId, MeshTelemetry.ParentOf(context.TraceParent).TraceId);
    }

    [Fact]
    public async Task PublishAsync_NoSpan_HandlerStillRunsInTheProducersTrace()
    {
        await using var host = await EmbeddedHost.StartAsync(s => s.AddSubscription<Probe, TraceRecorder>("observer", "probes"));

        await host.Publisher.PublishAsync("probes", new Probe(2));
        await host.Broker.WaitForIdleAsync();

        // The publish span is the root; the delivery span is its child.
        var (seen, context) = Assert.Single(host.Services.GetRequiredService<TraceRecorder>().Seen);
        Assert.NotEqual(default, seen);
        Assert.Equal(seen, MeshTelemetry.ParentOf(context.TraceParent).TraceId);
    }

    [Fact]
    public void ParentOf_MalformedTraceparent_IsANewTrace() =>
        Assert.Equal(default, MeshTelemetry.ParentOf("00-not-a-trace"));

    private static ActivityListener ListenToTest()
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == TestSource,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    public sealed record Probe(int N);

    public sealed class TraceRecorder : IEventHandler<Probe>
    {
        private readonly List<(ActivityTraceId, EventContext)> _seen = [];

        public IReadOnlyList<(ActivityTraceId TraceId, EventContext Context)> Seen
        {
            get
            {
                lock (_seen)
                {
                    return [.. _seen];
                }
            }
        }

        public Task<DeliveryOutcome> HandleAsync(Probe data, EventContext context, CancellationToken cancellationToken)
        {
            lock (_seen)
            {
                _seen.Add((Activity.Current?.TraceId ?? default, context));
            }

            return Task.FromResult(DeliveryOutcome.Success);
        }
    }
}
