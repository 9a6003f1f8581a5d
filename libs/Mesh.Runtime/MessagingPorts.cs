namespace Mesh.Runtime;

/// <summary>Publishes events to a topic of the mesh's pub/sub. Delivery is at least once: subscribers must be idempotent.</summary>
public interface IEventPublisher
{
    Task PublishAsync<T>(string topic, T data, CancellationToken cancellationToken = default);
}

/// <summary>Handles the events of one topic. Declared with <c>AddSubscription</c>; the runtime decides how they arrive.</summary>
public interface IEventHandler<in T>
{
    Task<DeliveryOutcome> HandleAsync(T data, EventContext context, CancellationToken cancellationToken);
}

/// <summary>What a handler says about an event: Dapr's SUCCESS, RETRY and DROP.</summary>
public enum DeliveryOutcome
{
    /// <summary>Handled; acknowledge it.</summary>
    Success,

    /// <summary>Not handled now; deliver it again later (bounded, then dead-lettered).</summary>
    Retry,

    /// <summary>Never deliverable; send it to the dead-letter topic.</summary>
    Drop,
}

/// <summary>
/// The CloudEvent attributes of a delivered event. <see cref="TraceParent"/> is the W3C <c>traceparent</c> the publisher
/// was in (the CloudEvent's, under Dapr); null when the event carries none.
/// </summary>
public sealed record EventContext(string EventId, string Topic, string Source, DateTimeOffset? Time, string? TraceParent = null);

/// <summary>Calls a method that another service serves (Dapr service invocation).</summary>
public interface IServiceInvoker
{
    /// <summary>Throws <see cref="InvocationException"/> when the callee answers with an error or cannot be reached.</summary>
    Task<TResponse> InvokeAsync<TRequest, TResponse>(string appId, string method, TRequest request, CancellationToken cancellationToken = default);
}

/// <summary>Serves one invocable method. Declared with <c>AddMethod</c>.</summary>
public interface IMethodHandler<in TRequest, TResponse>
{
    Task<TResponse> HandleAsync(TRequest request, CancellationToken cancellationToken);
}

/// <summary>A service invocation failed; <see cref="StatusCode"/> is the callee's (or the sidecar's) HTTP status.</summary>
public sealed class InvocationException(string appId, string method, int statusCode, string? detail = null, Exception? inner = null)
    : Exception($"Invoking '{method}' on '{appId}' failed with status {statusCode}{(detail is null ? "" : ": " + detail)}", inner)
{
    public string AppId { get; } = appId;
    public string Method { get; } = method;
    public int StatusCode { get; } = statusCode;
}

/// <summary>A method handler's way to answer with a client error (400) instead of a server error.</summary>
public sealed class InvalidInvocationException(string message) : Exception(message);
