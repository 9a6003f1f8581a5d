using System.Collections.Concurrent;

namespace Mesh.Runtime;

/// <summary>
/// Counts what happened to the events of each subscription. The books balance once queues are idle:
/// <c>Delivered + DeadLettered == Received - Duplicates</c> per subscription.
/// </summary>
public sealed class DeliveryMetrics
{
    private readonly ConcurrentDictionary<(string AppId, string Topic), SubscriptionCounters> _counters = new();
    private long _published;

    /// <summary>Events handed to the pub/sub by this process.</summary>
    public long Published => Interlocked.Read(ref _published);

    public SubscriptionCounters For(string appId, string topic) => _counters.GetOrAdd((appId, topic), k => new SubscriptionCounters(k.AppId, k.Topic));

    public IReadOnlyList<SubscriptionCounters> All => [.. _counters.Values.OrderBy(c => c.AppId, StringComparer.Ordinal).ThenBy(c => c.Topic, StringComparer.Ordinal)];

    internal void CountPublished() => Interlocked.Increment(ref _published);
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
