using Mesh.Contracts;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Actors;

/// <summary>
/// An actor type declared in code by a service. Both runtimes host these: the embedded one in process, the Dapr one
/// behind <c>GET /dapr/config</c> and the <c>/actors/…</c> callbacks.
/// </summary>
public sealed class ActorDescriptor
{
    internal ActorDescriptor(string appId, string actorType, Type implementationType, IReadOnlyDictionary<string, ActorMethodDispatch> methods, ObjectFactory factory)
    {
        AppId = appId;
        ActorType = actorType;
        ImplementationType = implementationType;
        Methods = methods;
        Factory = factory;
    }

    /// <summary>The hosting service. Embedded actor state keys start with it, as Dapr's do (<c>appId||type||id||key</c>).</summary>
    public string AppId { get; }

    public string ActorType { get; }
    public Type ImplementationType { get; }

    /// <summary>The methods callers may invoke, by name (ordinal, case-sensitive).</summary>
    public IReadOnlyDictionary<string, ActorMethodDispatch> Methods { get; }

    internal ObjectFactory Factory { get; }

    internal IActor Create(IServiceProvider services, IActorContext context) => (IActor)Factory(services, [context]);
}

/// <summary>Runs one actor method on a JSON request and returns the JSON response.</summary>
public delegate Task<byte[]> ActorMethodDispatch(IActor actor, ReadOnlyMemory<byte> request, CancellationToken cancellationToken);

/// <summary>Declares the methods of <typeparamref name="TActor"/> that callers may invoke by name.</summary>
public sealed class ActorMethods<TActor>
    where TActor : class, IActor
{
    private readonly Dictionary<string, ActorMethodDispatch> _methods = new(StringComparer.Ordinal);

    internal IReadOnlyDictionary<string, ActorMethodDispatch> Methods => _methods;

    /// <summary>
    /// Serves <paramref name="method"/> with <paramref name="handler"/>. A request that is not a valid
    /// <typeparamref name="TRequest"/> is refused (400) before the actor sees it.
    /// </summary>
    public ActorMethods<TActor> Add<TRequest, TResponse>(string method, Func<TActor, TRequest, CancellationToken, Task<TResponse>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ActorNames.ThrowIfInvalid(method, nameof(method), allowSlash: false);
        if (!_methods.TryAdd(method, Dispatch))
        {
            throw new ArgumentException($"Method '{method}' of {typeof(TActor).Name} is declared twice.", nameof(method));
        }

        return this;

        async Task<byte[]> Dispatch(IActor actor, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
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

            return MeshJson.Serialize(await handler((TActor)actor, typed, cancellationToken));
        }
    }
}

public static class ActorRegistration
{
    /// <summary>
    /// Declares that <paramref name="appId"/> hosts actor type <paramref name="actorType"/>, implemented by
    /// <typeparamref name="TActor"/> (a new instance per activation, built from the container plus its
    /// <see cref="IActorContext"/>), with the methods <paramref name="methods"/> declares. One app may host several types;
    /// a type is hosted by one app.
    /// </summary>
    public static IServiceCollection AddActor<TActor>(this IServiceCollection services, string appId, string actorType, Action<ActorMethods<TActor>> methods)
        where TActor : class, IActor
    {
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ActorNames.ThrowIfInvalid(actorType, nameof(actorType), allowSlash: false);
        ArgumentNullException.ThrowIfNull(methods);
        var declared = new ActorMethods<TActor>();
        methods(declared);
        var factory = ActivatorUtilities.CreateFactory(typeof(TActor), [typeof(IActorContext)]);
        services.AddSingleton(new ActorDescriptor(appId, actorType, typeof(TActor), declared.Methods, factory));
        return services;
    }
}

/// <summary>The naming rules of Dapr actors and their state, checked before anything reaches a store or a URL.</summary>
internal static class ActorNames
{
    // Dapr builds actor state keys as appId||type||id||key and refuses "||" inside a key (§1.2).
    private const string Separator = "||";

    public static bool IsValid(string? name, bool allowSlash = true) =>
        !string.IsNullOrEmpty(name) && !name.Contains(Separator, StringComparison.Ordinal) && (allowSlash || !name.Contains('/', StringComparison.Ordinal));

    public static void ThrowIfInvalid(string? name, string parameter, bool allowSlash = true)
    {
        if (!IsValid(name, allowSlash))
        {
            throw new ArgumentException($"'{name}' is not a valid actor name: it must be non-empty and contain no '||'{(allowSlash ? "" : " or '/'")}.", parameter);
        }
    }
}
