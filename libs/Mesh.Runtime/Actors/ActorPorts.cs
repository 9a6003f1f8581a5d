namespace Mesh.Runtime.Actors;

/// <summary>
/// A virtual actor after Dapr's actor model: one instance per (actor type, actor id), created on first use, running one
/// turn (a method call, a reminder, its activation or deactivation) at a time, and deactivated when idle. An
/// implementation takes its <see cref="IActorContext"/> and any singletons in its constructor; its methods are declared
/// with <c>AddActor</c>. Calls are not reentrant: an actor that calls itself, directly or through another actor, waits
/// for its own turn forever (Dapr with reentrancy off).
/// </summary>
public interface IActor
{
    /// <summary>Runs in the turn that activates the actor, before the call or reminder that caused it. State set here is saved.</summary>
    Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs in the last turn of an activation (idle timeout, shutdown, or the sidecar's deactivation call). State set here is saved.</summary>
    Task OnDeactivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Runs, as a turn of its own, when reminder <paramref name="name"/> is due; activates the actor if needed.
    /// <paramref name="data"/> is the JSON given at registration, empty when none.
    /// </summary>
    Task OnReminderAsync(string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>What an activation of an actor gets from the runtime: its identity, its state and its reminders.</summary>
public interface IActorContext
{
    string ActorType { get; }
    string ActorId { get; }

    /// <summary>The actor's own state, saved as one transaction at the end of each successful turn.</summary>
    IActorStateManager State { get; }

    /// <summary>
    /// Creates or replaces reminder <paramref name="name"/>: due after <paramref name="dueTime"/>, then every
    /// <paramref name="period"/>, or once when <paramref name="period"/> is null. Reminders are durable and outlive the
    /// activation; they fire even when the actor is inactive. <paramref name="data"/> is UTF-8 JSON handed back to
    /// <see cref="IActor.OnReminderAsync"/> (empty: none). Takes effect at once, not at the end of the turn.
    /// Times are kept to the millisecond.
    /// </summary>
    Task RegisterReminderAsync(string name, TimeSpan dueTime, TimeSpan? period = null, ReadOnlyMemory<byte> data = default, CancellationToken cancellationToken = default);

    /// <summary>Deletes reminder <paramref name="name"/>; a missing one is not an error. Takes effect at once.</summary>
    Task UnregisterReminderAsync(string name, CancellationToken cancellationToken = default);
}

/// <summary>
/// An actor's key/value state, like Dapr's actor state manager: reads are cached for the activation, writes are staged
/// and saved as one transaction when the turn ends successfully, and dropped when it throws. Values are JSON. Keys may
/// not contain <c>||</c>.
/// </summary>
public interface IActorStateManager
{
    /// <summary>The value of <paramref name="key"/>, or <c>default</c> when it is missing (or expired).</summary>
    Task<T?> GetAsync<T>(string key, CancellationToken cancellationToken = default);

    /// <summary>Whether <paramref name="key"/> has a value, staged changes included.</summary>
    Task<bool> ContainsAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Stages a write of <paramref name="value"/>; it expires <paramref name="timeToLive"/> after the save (whole seconds; null: never).</summary>
    void Set<T>(string key, T value, TimeSpan? timeToLive = null);

    /// <summary>Stages the removal of <paramref name="key"/>.</summary>
    void Remove(string key);

    /// <summary>Saves the staged changes now rather than at the end of the turn. Nothing to save: no call.</summary>
    Task SaveAsync(CancellationToken cancellationToken = default);
}

/// <summary>Calls a method of an actor, wherever it is hosted (Dapr: through the sidecar and placement).</summary>
public interface IActorInvoker
{
    /// <summary>
    /// Sends <paramref name="request"/> as JSON to <paramref name="method"/> of actor <paramref name="actorType"/>/<paramref name="actorId"/>
    /// and returns its JSON answer. Waits for the actor's turn. Throws <see cref="ActorInvocationException"/> when the
    /// actor refuses the request (400), fails (500), or cannot be found or reached.
    /// </summary>
    Task<TResponse> InvokeAsync<TRequest, TResponse>(string actorType, string actorId, string method, TRequest request, CancellationToken cancellationToken = default);
}

/// <summary>
/// An actor call failed. <see cref="StatusCode"/>: 400 when the actor refused the request (malformed, or an
/// <see cref="InvalidInvocationException"/>), 404 for an unknown type or method on the embedded runtime, 500 when the
/// actor failed (or, through Dapr, when daprd reports any other error), 503 when the sidecar is unreachable.
/// </summary>
public sealed class ActorInvocationException(string actorType, string actorId, string method, int statusCode, string? detail = null, Exception? inner = null)
    : Exception($"Invoking '{method}' on actor {actorType}/{actorId} failed with status {statusCode}{(detail is null ? "" : ": " + detail)}", inner)
{
    public string ActorType { get; } = actorType;
    public string ActorId { get; } = actorId;
    public string Method { get; } = method;
    public int StatusCode { get; } = statusCode;
}

/// <summary>No actor type or method of that name is registered here.</summary>
internal sealed class ActorNotFoundException(string message) : Exception(message);
