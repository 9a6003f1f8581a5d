using Mesh.Contracts;
using Mesh.Runtime;
using Mesh.Runtime.Actors;

namespace Mesh.UserModel.Embeddings;

/// <summary>
/// Hands each <c>user-events</c> event to the user's actor, which owns the activity log and the embedding. An actor
/// failure is an exception, so the event is retried (the actor recognises an event it already recorded); an event the
/// actor refuses (400: no valid user id, unreadable) is dropped to the dead-letter topic.
/// </summary>
public sealed class UserActedHandler(IActorInvoker actors) : IEventHandler<UserActed>
{
    public async Task<DeliveryOutcome> HandleAsync(UserActed data, EventContext context, CancellationToken cancellationToken)
    {
        try
        {
            await actors.InvokeAsync<UserActed, RecordResult>(ActorTypes.User, data.UserId, nameof(IUserActor.RecordAsync), data, cancellationToken);
            return DeliveryOutcome.Success;
        }
        catch (ActorInvocationException e) when (e.StatusCode == 400)
        {
            return DeliveryOutcome.Drop;
        }
    }
}
