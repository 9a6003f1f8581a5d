using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime.Actors;

/// <summary>
/// The turn-based core both runtimes share: activations by (type, id), one turn at a time per activation, state saved at
/// the end of each successful turn and dropped on failure, and deactivation. It never decides when to deactivate: the
/// embedded runtime scans for idle actors itself, under Dapr daprd does and calls <c>DELETE /actors/{type}/{id}</c>.
/// </summary>
internal sealed class ActorManager
{
    private readonly Dictionary<string, ActorDescriptor> _types = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Type, string Id), Activation> _active = new();
    private readonly IServiceProvider _services;
    private readonly TimeProvider _clock;
    private readonly ILogger<ActorManager> _logger;

    public ActorManager(IEnumerable<ActorDescriptor> actors, IServiceProvider services, TimeProvider clock, ILogger<ActorManager> logger)
    {
        foreach (var actor in actors)
        {
            if (!_types.TryAdd(actor.ActorType, actor))
            {
                throw new InvalidOperationException($"Actor type '{actor.ActorType}' is registered more than once.");
            }
        }

        _services = services;
        _clock = clock;
        _logger = logger;
    }

    /// <summary>The hosted actor types, in registration order.</summary>
    public IReadOnlyCollection<ActorDescriptor> Types => _types.Values;

    /// <summary>Actors active now.</summary>
    public int ActiveCount => _active.Count;

    public bool Hosts(string actorType) => _types.ContainsKey(actorType);

    public bool IsActive(string actorType, string actorId) => _active.ContainsKey((actorType, actorId));

    /// <summary>
    /// Runs <paramref name="method"/> in a turn of its own. Throws <see cref="ActorNotFoundException"/> for an unknown
    /// type or method, <see cref="InvalidInvocationException"/> for an invalid id and <see cref="MalformedRequestException"/>
    /// for a request the method cannot read; anything the actor throws passes through.
    /// </summary>
    public Task<byte[]> InvokeAsync(string actorType, string actorId, string method, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        var type = Require(actorType);
        if (!type.Methods.TryGetValue(method, out var dispatch))
        {
            throw new ActorNotFoundException($"Actor type '{actorType}' has no method '{method}'.");
        }

        return RunTurnAsync(type, actorId, (actor, token) => dispatch(actor, request, token), cancellationToken);
    }

    /// <summary>Delivers reminder <paramref name="name"/> in a turn of its own, activating the actor if needed.</summary>
    public Task ReminderAsync(string actorType, string actorId, string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        RunTurnAsync(Require(actorType), actorId, async (actor, token) =>
        {
            await actor.OnReminderAsync(name, data, token);
            return [];
        }, cancellationToken);

    /// <summary>Deactivates one actor after its current turn; false when it was not active.</summary>
    public async Task<bool> DeactivateAsync(string actorType, string actorId, CancellationToken cancellationToken)
    {
        if (!_active.TryGetValue((actorType, actorId), out var activation))
        {
            return false;
        }

        await activation.Turn.WaitAsync(cancellationToken);
        try
        {
            return await DeactivateHeldAsync(activation, cancellationToken);
        }
        finally
        {
            activation.Turn.Release();
        }
    }

    /// <summary>Deactivates every actor whose last turn ended at least <paramref name="idleTimeout"/> ago and that is not busy now.</summary>
    public async Task<int> DeactivateIdleAsync(TimeSpan idleTimeout, CancellationToken cancellationToken)
    {
        var now = _clock.GetUtcNow().UtcTicks;
        var count = 0;
        foreach (var activation in _active.Values)
        {
            // A turn running or queued means the actor is in use, whatever its last turn's end says.
            if (now - activation.LastUsedTicks < idleTimeout.Ticks || !activation.Turn.Wait(0, CancellationToken.None))
            {
                continue;
            }

            try
            {
                count += await DeactivateHeldAsync(activation, cancellationToken) ? 1 : 0;
            }
            finally
            {
                activation.Turn.Release();
            }
        }

        return count;
    }

    /// <summary>Deactivates every actor, each after its current turn (shutdown).</summary>
    public async Task DeactivateAllAsync(CancellationToken cancellationToken)
    {
        foreach (var (type, id) in _active.Keys)
        {
            await DeactivateAsync(type, id, cancellationToken);
        }
    }

    private ActorDescriptor Require(string actorType) =>
        _types.GetValueOrDefault(actorType) ?? throw new ActorNotFoundException($"No actor type '{actorType}' is hosted here.");

    private async Task<byte[]> RunTurnAsync(ActorDescriptor type, string actorId, Func<IActor, CancellationToken, Task<byte[]>> turn, CancellationToken cancellationToken)
    {
        if (!ActorNames.IsValid(actorId))
        {
            throw new InvalidInvocationException($"'{actorId}' is not a valid actor id: it must be non-empty and contain no '||'.");
        }

        while (true)
        {
            var activation = _active.GetOrAdd((type.ActorType, actorId), _ => new Activation(type, actorId, _clock.GetUtcNow()));
            await activation.Turn.WaitAsync(cancellationToken);
            try
            {
                // Deactivated while this call waited: the next loop finds or creates the new activation.
                if (activation.Deactivated)
                {
                    continue;
                }

                var (actor, state) = activation.Instance is { } active ? active : await ActivateAsync(activation, cancellationToken);
                try
                {
                    var result = await turn(actor, cancellationToken);
                    await state.SaveAsync(cancellationToken);
                    return result;
                }
                catch
                {
                    // Like Dapr's actor state manager: a failed turn's changes are dropped and the next turn reads the store.
                    state.Discard();
                    throw;
                }
            }
            finally
            {
                activation.Touch(_clock.GetUtcNow());
                activation.Turn.Release();
            }
        }
    }

    private async Task<(IActor, ActorStateManager)> ActivateAsync(Activation activation, CancellationToken cancellationToken)
    {
        var context = new ActorContext(activation.Type.ActorType, activation.Id, () => _services.GetRequiredService<IActorBackend>());
        var actor = activation.Type.Create(_services, context);
        try
        {
            await actor.OnActivateAsync(cancellationToken);
            await context.StateManager.SaveAsync(cancellationToken);
        }
        catch
        {
            // A failed activation leaves nothing behind: the next call starts a fresh one.
            Remove(activation);
            await DisposeAsync(actor);
            throw;
        }

        activation.Instance = (actor, context.StateManager);
        return activation.Instance.Value;
    }

    // Called with the activation's turn held.
    private async Task<bool> DeactivateHeldAsync(Activation activation, CancellationToken cancellationToken)
    {
        if (activation.Deactivated)
        {
            return false;
        }

        Remove(activation);
        if (activation.Instance is not { } instance)
        {
            return true;
        }

        var (actor, state) = instance;

        try
        {
            await actor.OnDeactivateAsync(cancellationToken);
            await state.SaveAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Deactivation cannot be refused (daprd has already forgotten the actor); losing its last changes is logged.
            _logger.LogWarning(e, "Deactivating actor {ActorType}/{ActorId} failed", activation.Type.ActorType, activation.Id);
        }
        finally
        {
            await DisposeAsync(actor);
        }

        return true;
    }

    private void Remove(Activation activation)
    {
        activation.Deactivated = true;
        _active.TryRemove(KeyValuePair.Create((activation.Type.ActorType, activation.Id), activation));
    }

    private static async ValueTask DisposeAsync(IActor actor)
    {
        switch (actor)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    /// <summary>
    /// One activation. <see cref="Turn"/> admits one turn at a time; everything else is read and written only while it
    /// is held, except <see cref="LastUsedTicks"/>, which the idle scan reads without it.
    /// </summary>
    private sealed class Activation(ActorDescriptor type, string id, DateTimeOffset created)
    {
        private long _lastUsedTicks = created.UtcTicks;

        public ActorDescriptor Type { get; } = type;
        public string Id { get; } = id;

        // Never disposed: a caller may still be queued on it after deactivation, and it has no wait handle to free.
        public SemaphoreSlim Turn { get; } = new(1, 1);

        public (IActor Actor, ActorStateManager State)? Instance { get; set; }
        public bool Deactivated { get; set; }
        public long LastUsedTicks => Volatile.Read(ref _lastUsedTicks);

        public void Touch(DateTimeOffset now) => Volatile.Write(ref _lastUsedTicks, now.UtcTicks);
    }

    private sealed class ActorContext(string actorType, string actorId, Func<IActorBackend> backend) : IActorContext
    {
        public string ActorType { get; } = actorType;
        public string ActorId { get; } = actorId;
        public ActorStateManager StateManager { get; } = new(actorType, actorId, backend);
        public IActorStateManager State => StateManager;

        public Task RegisterReminderAsync(string name, TimeSpan dueTime, TimeSpan? period = null, ReadOnlyMemory<byte> data = default, CancellationToken cancellationToken = default)
        {
            ActorNames.ThrowIfInvalid(name, nameof(name), allowSlash: false);
            ArgumentOutOfRangeException.ThrowIfLessThan(dueTime, TimeSpan.Zero);
            if (period is { } p)
            {
                ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(p, TimeSpan.Zero, nameof(period));
            }

            byte[]? json = null;
            if (!data.IsEmpty)
            {
                // Checked here so both runtimes refuse it alike: under Dapr it is embedded raw in the request body.
                System.Text.Json.JsonDocument.Parse(data).Dispose();
                json = data.ToArray();
            }

            return backend().RegisterReminderAsync(ActorType, ActorId, name, new ActorReminder(dueTime, period, json), cancellationToken);
        }

        public Task UnregisterReminderAsync(string name, CancellationToken cancellationToken = default)
        {
            ActorNames.ThrowIfInvalid(name, nameof(name), allowSlash: false);
            return backend().UnregisterReminderAsync(ActorType, ActorId, name, cancellationToken);
        }
    }
}
