using System.Diagnostics;
using Dapr.Client;
using Mesh.Runtime.Telemetry;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// <see cref="IEventPublisher"/> over <see cref="DaprClient.PublishEventAsync{TData}(string, string, TData, CancellationToken)"/>:
/// the data goes as <c>application/json</c>, so daprd embeds it as the CloudEvent's <c>data</c> object. The publish is
/// a producer span whose <c>traceparent</c> goes as the <c>cloudevent.traceparent</c> metadata, which daprd writes into the
/// CloudEvent as it is (instead of a span of its own), so subscribers continue this trace.
/// </summary>
public sealed class DaprEventPublisher(DaprClient dapr, IOptions<MeshRuntimeOptions> options, DeliveryMetrics metrics, TimeProvider clock) : IEventPublisher
{
    private const string TraceParentMetadata = "cloudevent.traceparent";

    private readonly string _pubSubName = options.Value.PubSubName;

    public async Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default)
    {
        var started = clock.GetTimestamp();
        using var activity = MeshTelemetry.Source(MeshTelemetry.RuntimeName).StartActivity($"{topic} publish", ActivityKind.Producer);
        activity?.SetTag("messaging.operation.type", "send");
        activity?.SetTag("messaging.destination.name", topic);
        if (MeshTelemetry.TraceParent(activity ?? Activity.Current) is { } traceParent)
        {
            await dapr.PublishEventAsync(_pubSubName, topic, data, new Dictionary<string, string> { [TraceParentMetadata] = traceParent }, cancellationToken);
        }
        else
        {
            await dapr.PublishEventAsync(_pubSubName, topic, data, cancellationToken);
        }

        metrics.CountPublished();
        metrics.RecordPublish(topic, clock.GetElapsedTime(started));
    }
}
