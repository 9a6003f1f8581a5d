using System.Text.Json;
using Mesh.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Mesh.Runtime;

/// <summary>
/// A topic subscription declared in code by a service. Both runtimes read these: the embedded broker delivers to
/// <see cref="Dispatch"/> directly, the Dapr runtime lists them on <c>GET /dapr/subscribe</c> and maps <see cref="Route"/>.
/// </summary>
public sealed class SubscriptionDescriptor
{
    internal SubscriptionDescriptor(string appId, string topic, Type eventType, EventDispatch dispatch)
    {
        AppId = appId;
        Topic = topic;
        EventType = eventType;
        Dispatch = dispatch;
    }

    /// <summary>The subscribing service; each app-id is its own consumer group and gets every event.</summary>
    public string AppId { get; }

    public string Topic { get; }
    public Type EventType { get; }

    /// <summary>App route daprd posts events to (no leading slash, as the Dapr SDK writes it): <c>events/{topic}</c>.</summary>
    public string Route => $"events/{Topic}";

    /// <summary>When set, daprd delivers this topic's events in batches; null: one event per request.</summary>
    public BulkSubscribeOptions? BulkSubscribe { get; internal init; }

    public string DeadLetterTopic { get; } = Contracts.Topics.DeadLetters;

    /// <summary>Deserializes the event's data and runs the handler; throws <see cref="PoisonEventException"/> for data that cannot be read.</summary>
    public EventDispatch Dispatch { get; }
}

/// <summary>Runs a handler on the JSON data of one event.</summary>
public delegate Task<DeliveryOutcome> EventDispatch(IServiceProvider services, ReadOnlyMemory<byte> data, EventContext context, CancellationToken cancellationToken);

/// <summary>A method served through service invocation, declared in code.</summary>
public sealed class MethodDescriptor
{
    internal MethodDescriptor(string appId, string method, MethodDispatch dispatch)
    {
        AppId = appId;
        Method = method;
        Dispatch = dispatch;
    }

    public string AppId { get; }
    public string Method { get; }

    /// <summary>Deserializes the request, runs the handler, serializes the response.</summary>
    public MethodDispatch Dispatch { get; }
}

/// <summary>Runs a method handler on a JSON request and returns the JSON response.</summary>
public delegate Task<byte[]> MethodDispatch(IServiceProvider services, ReadOnlyMemory<byte> request, CancellationToken cancellationToken);

/// <summary>An event whose data cannot be deserialized; it goes to the dead-letter topic without retries.</summary>
public sealed class PoisonEventException(string message, Exception inner) : Exception(message, inner);

/// <summary>The request body of an invocation could not be read as the method's request type.</summary>
public sealed class MalformedRequestException(string message, Exception inner) : Exception(message, inner);

public static class BuildingBlockRegistration
{
    /// <summary>
    /// Declares that <paramref name="appId"/> handles <paramref name="topic"/> with <typeparamref name="THandler"/> (a
    /// singleton; one registered before wins). <paramref name="bulk"/> asks daprd for batches (the embedded runtime
    /// delivers one by one regardless).
    /// </summary>
    public static IServiceCollection AddSubscription<TEvent, THandler>(
        this IServiceCollection services, string appId, string topic, BulkSubscribeOptions? bulk = null)
        where THandler : class, IEventHandler<TEvent>
    {
        if (bulk is not null)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bulk.MaxMessagesCount, nameof(bulk));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bulk.MaxAwaitDurationMs, nameof(bulk));
        }

        services.TryAddSingleton<THandler>();
        services.AddSingleton(new SubscriptionDescriptor(appId, topic, typeof(TEvent), DispatchTo<TEvent, THandler>) { BulkSubscribe = bulk });
        return services;
    }

    /// <summary>Declares that <paramref name="appId"/> serves <paramref name="method"/> with <typeparamref name="THandler"/> (a singleton; one registered before wins).</summary>
    public static IServiceCollection AddMethod<TRequest, TResponse, THandler>(this IServiceCollection services, string appId, string method)
        where THandler : class, IMethodHandler<TRequest, TResponse>
    {
        services.TryAddSingleton<THandler>();
        services.AddSingleton(new MethodDescriptor(appId, method, InvokeMethod<TRequest, TResponse, THandler>));
        return services;
    }

    private static async Task<DeliveryOutcome> DispatchTo<TEvent, THandler>(
        IServiceProvider services, ReadOnlyMemory<byte> data, EventContext context, CancellationToken cancellationToken)
        where THandler : class, IEventHandler<TEvent>
    {
        TEvent evt;
        try
        {
            evt = MeshJson.Deserialize<TEvent>(data.Span);
        }
        catch (JsonException e)
        {
            // A payload that cannot be read now never will be: the runtime dead-letters it rather than retry.
            throw new PoisonEventException($"The data of event '{context.EventId}' on '{context.Topic}' is not a valid {typeof(TEvent).Name}: {e.Message}", e);
        }

        return await services.GetRequiredService<THandler>().HandleAsync(evt, context, cancellationToken);
    }

    private static async Task<byte[]> InvokeMethod<TRequest, TResponse, THandler>(
        IServiceProvider services, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
        where THandler : class, IMethodHandler<TRequest, TResponse>
    {
        TRequest typed;
        try
        {
            typed = MeshJson.Deserialize<TRequest>(request.Span);
        }
        catch (JsonException e)
        {
            throw new MalformedRequestException($"The request is not a valid {typeof(TRequest).Name}: {e.Message}", e);
        }

        var response = await services.GetRequiredService<THandler>().HandleAsync(typed, cancellationToken);
        return MeshJson.Serialize(response);
    }
}
