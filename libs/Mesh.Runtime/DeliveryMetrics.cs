using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Mesh.Runtime.Telemetry;

namespace Mesh.Runtime;

/// <summary>
/// Counts what happened to the events of each subscription. The books balance once queues are idle:
/// <c>Delivered + DeadLettered == Received - Duplicates</c> per subscription. The same counts are the meter
/// <c>mesh.runtime</c>'s observable counters (<c>mesh.events.*</c>, per app-id and topic), so <c>/v1/stats</c> and
/// <c>/metrics</c> cannot disagree; publishes also feed <c>mesh.publish.duration</c>.
/// </summary>
public sealed class DeliveryMetrics
{
    private readonly ConcurrentDictionary<(string AppId, string Topic), SubscriptionCounters> _counters = new();
    private readonly Histogram<double>? _publishDuration;
    private long _published;

    public DeliveryMetrics()
    {
    }

    /// <summary>Counts that <paramref name="meters"/> also report (the DI constructor).</summary>
    public DeliveryMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeshTelemetry.RuntimeName);
        _publishDuration = meter.CreateLatencyHistogram("mesh.publish.duration", "Time to hand one event to the pub/sub (the embedded broker's outbox and queues, or daprd).");
        meter.CreateObservableCounter("mesh.events.published", () => Published, "{event}", "Events handed to the pub/sub by this process.");
        Observe(meter, "mesh.events.received", c => c.Received, "Events that reached a subscription, redeliveries included.");
        Observe(meter, "mesh.events.delivered", c => c.Delivered, "Events whose handler answered SUCCESS.");
        Observe(meter, "mesh.events.retried", c => c.Retried, "Delivery attempts that asked for a retry (RETRY, an exception, a timeout).");
        Observe(meter, "mesh.events.dead_lettered", c => c.DeadLettered, "Events sent to the dead-letter topic (DROP, poison, retries exhausted).");
        Observe(meter, "mesh.events.duplicates", c => c.Duplicates, "Redeliveries of an event already handled, acknowledged without running the handler.");
    }

    /// <summary>Events handed to the pub/sub by this process.</summary>
    public long Published => Interlocked.Read(ref _published);

    public SubscriptionCounters For(string appId, string topic) => _counters.GetOrAdd((appId, topic), k => new SubscriptionCounters(k.AppId, k.Topic));

    public IReadOnlyList<SubscriptionCounters> All => [.. _counters.Values.OrderBy(c => c.AppId, StringComparer.Ordinal).ThenBy(c => c.Topic, StringComparer.Ordinal)];

    internal void CountPublished() => Interlocked.Increment(ref _published);

    internal void RecordPublish(string topic, TimeSpan elapsed) =>
        _publishDuration?.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("messaging.destination.name", topic));

    private void Observe(Meter meter, string name, Func<SubscriptionCounters, long> count, string description) =>
        meter.CreateObservableCounter(name, () => All.Select(c => new Measurement<long>(
            count(c),
            new KeyValuePair<string, object?>("mesh.app_id", c.AppId),
            new KeyValuePair<string, object?>("messaging.destination.name", c.Topic))), "{event}", description);
}

/// <summary>The counts of one subscription; all are monotonic.</summary>
public sealed class SubscriptionCounters(string appId, string topic)
{
    private long _received;
    private long _delivered;
    private long _retried;
    private long _deadLettered;
    private long _poison;
    private long _duplicates;

    public string AppId { get; } = appId;
    public string Topic { get; } = topic;

    /// <summary>Events that reached this subscription (redeliveries by a broker included).</summary>
    public long Received => Interlocked.Read(ref _received);

    /// <summary>Events whose handler answered SUCCESS.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Attempts that asked for a retry (RETRY, an exception, a timeout).</summary>
    public long Retried => Interlocked.Read(ref _retried);

    /// <summary>Events sent to the dead-letter topic: DROP, poison, or retries exhausted.</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Of <see cref="DeadLettered"/>, events whose data could not be deserialized.</summary>
    public long Poison => Interlocked.Read(ref _poison);

    /// <summary>Redeliveries of an event already handled, acknowledged without running the handler again.</summary>
    public long Duplicates => Interlocked.Read(ref _duplicates);

    internal void CountReceived() => Interlocked.Increment(ref _received);
    internal void CountDelivered() => Interlocked.Increment(ref _delivered);
    internal void CountRetried() => Interlocked.Increment(ref _retried);
    internal void CountDuplicate() => Interlocked.Increment(ref _duplicates);

    internal void CountDeadLettered(bool poison)
    {
        Interlocked.Increment(ref _deadLettered);
        if (poison)
        {
            Interlocked.Increment(ref _poison);
        }
    }
}
