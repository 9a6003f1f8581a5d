namespace Mesh.Runtime;

/// <summary>
/// Remembers the CloudEvent ids a subscription has handled, so that a redelivery (at-least-once) is acknowledged
/// without running the handler twice. Bounded: the oldest ids are forgotten first.
/// </summary>
public sealed class ProcessedEvents(int capacity = 65_536)
{
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly Lock _lock = new();

    public bool Contains(string eventId)
    {
        lock (_lock)
        {
            return _ids.Contains(eventId);
        }
    }

    public void Add(string eventId)
    {
        lock (_lock)
        {
            if (!_ids.Add(eventId))
            {
                return;
            }

            _order.Enqueue(eventId);
            if (_order.Count > capacity)
            {
                _ids.Remove(_order.Dequeue());
            }
        }
    }
}

/// <summary>One <see cref="ProcessedEvents"/> per subscription (app-id, topic).</summary>
public sealed class ProcessedEventsRegistry
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string, string), ProcessedEvents> _byKey = new();

    public ProcessedEvents For(string appId, string topic) => _byKey.GetOrAdd((appId, topic), _ => new ProcessedEvents());
}
