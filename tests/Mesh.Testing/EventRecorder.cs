using Mesh.Runtime;

namespace Mesh.Testing;

/// <summary>A subscriber that keeps every event it receives, for tests to inspect what a service published.</summary>
public sealed class EventRecorder<T> : IEventHandler<T>
{
    private readonly List<(T Data, EventContext Context)> _received = [];

    public IReadOnlyList<T> All
    {
        get
        {
            lock (_received)
            {
                return [.. _received.Select(r => r.Data)];
            }
        }
    }

    public IReadOnlyList<EventContext> Contexts
    {
        get
        {
            lock (_received)
            {
                return [.. _received.Select(r => r.Context)];
            }
        }
    }

    public Task<DeliveryOutcome> HandleAsync(T data, EventContext context, CancellationToken cancellationToken)
    {
        lock (_received)
        {
            _received.Add((data, context));
        }

        return Task.FromResult(DeliveryOutcome.Success);
    }
}
