using Microsoft.Extensions.DependencyInjection;
using DaprActor = Dapr.Actors.Runtime.Actor;

namespace Mesh.Runtime.Actors;

/// <summary>
/// An actor type a service hosts. The class is an ordinary <c>Dapr.Actors</c> actor: under Dapr the SDK's actor
/// runtime hosts it behind daprd; the embedded runtime hosts the same class in process.
/// </summary>
/// <param name="AppId">The hosting service (Dapr builds actor state keys as <c>appId||type||id||key</c>).</param>
/// <param name="ActorType">The actor type name callers use.</param>
/// <param name="ImplementationType">The <see cref="DaprActor"/> subclass.</param>
public sealed record HostedActorType(string AppId, string ActorType, Type ImplementationType);

public static class ActorHosting
{
    /// <summary>Declares that <paramref name="appId"/> hosts actor type <paramref name="actorType"/>, implemented by <typeparamref name="TActor"/>.</summary>
    public static IServiceCollection AddActorType<TActor>(this IServiceCollection services, string appId, string actorType)
        where TActor : DaprActor
    {
        ArgumentException.ThrowIfNullOrEmpty(appId);
        ArgumentException.ThrowIfNullOrEmpty(actorType);
        services.AddSingleton(new HostedActorType(appId, actorType, typeof(TActor)));
        return services;
    }
}
