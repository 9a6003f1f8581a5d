using System.Text.Json;
using Dapr;
using Dapr.Actors;
using Dapr.Actors.Client;
using Mesh.Runtime.Actors;
using Microsoft.AspNetCore.Http;

namespace Mesh.Runtime.Dapr;

/// <summary>
/// <see cref="IActorInvoker"/> over the SDK's non-remoting actor proxy (HTTP to the sidecar, JSON both ways). daprd
/// folds every failure of the actor into its own 500 (ERR_ACTOR_INVOKE_METHOD), so through Dapr an actor that refuses
/// a request and one that fails both read 500 here; an unreachable sidecar is 503.
/// </summary>
public sealed class DaprActorInvoker(IActorProxyFactory proxies) : IActorInvoker
{
    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string actorType, string actorId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        ActorId id;
        try
        {
            id = new ActorId(actorId);
        }
        catch (ArgumentException e)
        {
            // Refused before it reaches the sidecar: an empty or blank id names no actor.
            throw new ActorInvocationException(actorType, actorId, method, StatusCodes.Status400BadRequest, e.Message, e);
        }

        try
        {
            return await proxies.Create(id, actorType).InvokeMethodAsync<TRequest, TResponse>(method, request, cancellationToken);
        }
        catch (DaprApiException e)
        {
            throw new ActorInvocationException(actorType, actorId, method, StatusCodes.Status500InternalServerError, e.ErrorCode, e);
        }
        catch (JsonException e)
        {
            throw new ActorInvocationException(actorType, actorId, method, StatusCodes.Status500InternalServerError, $"the response is not a valid {typeof(TResponse).Name}", e);
        }
        catch (HttpRequestException e)
        {
            throw new ActorInvocationException(actorType, actorId, method, StatusCodes.Status503ServiceUnavailable, "the Dapr sidecar is unreachable", e);
        }
    }
}
