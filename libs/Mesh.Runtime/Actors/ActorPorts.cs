namespace Mesh.Runtime.Actors;

/// <summary>
/// Calls a method of an actor by name, wherever it is hosted (Dapr: through the sidecar and placement; embedded: in
/// process). The method is one of the actor interface's methods, called as Dapr calls an actor without remoting: one
/// JSON argument (or none) and a JSON answer.
/// </summary>
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
/// An actor call failed. <see cref="StatusCode"/>: 400 when the actor refused the request (an invalid actor id, a body
/// that is not the method's argument type, or an <see cref="InvalidInvocationException"/>), 404 for an unknown type or
/// method on the embedded runtime, 500 when the actor failed (or, through Dapr, when daprd reports any other error),
/// 503 when the sidecar is unreachable.
/// </summary>
public sealed class ActorInvocationException(string actorType, string actorId, string method, int statusCode, string? detail = null, Exception? inner = null)
    : Exception($"Invoking '{method}' on actor {actorType}/{actorId} failed with status {statusCode}{(detail is null ? "" : ": " + detail)}", inner)
{
    public string ActorType { get; } = actorType;
    public string ActorId { get; } = actorId;
    public string Method { get; } = method;
    public int StatusCode { get; } = statusCode;
}
