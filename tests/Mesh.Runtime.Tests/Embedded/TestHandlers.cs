namespace Mesh.Runtime.Tests.Embedded;

public sealed record Ping(int N);

/// <summary>Records what it handled and answers from a script of outcomes (then SUCCESS).</summary>
public sealed class ScriptedHandler : IEventHandler<Ping>
{
    private readonly Lock _lock = new();
    private readonly Queue<DeliveryOutcome> _script = new();
    private readonly List<(int N, string EventId)> _calls = [];

    public Func<Ping, Task>? Gate { get; set; }

    public IReadOnlyList<(int N, string EventId)> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    public void Script(params DeliveryOutcome[] outcomes)
    {
        lock (_lock)
        {
            foreach (var o in outcomes)
            {
                _script.Enqueue(o);
            }
        }
    }

    public async Task<DeliveryOutcome> HandleAsync(Ping data, EventContext context, CancellationToken cancellationToken)
    {
        if (Gate is { } gate)
        {
            await gate(data);
        }

        lock (_lock)
        {
            _calls.Add((data.N, context.EventId));
            return _script.TryDequeue(out var outcome) ? outcome : DeliveryOutcome.Success;
        }
    }
}

/// <summary>Subscribes to the dead-letter topic and keeps the raw events it receives.</summary>
public sealed class DeadLetterSink : IEventHandler<System.Text.Json.JsonElement>
{
    private readonly List<(string EventId, string Json)> _received = [];

    public IReadOnlyList<(string EventId, string Json)> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    public Task<DeliveryOutcome> HandleAsync(System.Text.Json.JsonElement data, EventContext context, CancellationToken cancellationToken)
    {
        lock (_received)
        {
            _received.Add((context.EventId, data.GetRawText()));
        }

        return Task.FromResult(DeliveryOutcome.Success);
    }
}
