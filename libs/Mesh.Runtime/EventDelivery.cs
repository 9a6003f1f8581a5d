using System.Diagnostics;
using Mesh.Runtime.Faults;
using Mesh.Runtime.Telemetry;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime;

/// <summary>
/// The part of delivering an event that both runtimes share: idempotency on the CloudEvent id, the handler call,
/// and the mapping of exceptions to outcomes, each attempt in a consumer span whose parent is the event's
/// <c>traceparent</c> (else the ambient activity). The runtime owns retries and dead-lettering.
/// </summary>
public sealed class EventDelivery(IServiceProvider services, DeliveryMetrics metrics, ProcessedEventsRegistry processed, FaultInjector faults, ILogger<EventDelivery> logger)
{
    public async Task<DeliveryResult> DeliverAsync(SubscriptionDescriptor subscription, ReadOnlyMemory<byte> data, EventContext context, CancellationToken cancellationToken)
    {
        var parent = context.TraceParent is { Length: > 0 } traceParent ? MeshTelemetry.ParentOf(traceParent) : default;
        using var activity = MeshTelemetry.Source(MeshTelemetry.RuntimeName).StartActivity($"{subscription.Topic} process", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.operation.type", "process");
        activity?.SetTag("messaging.destination.name", subscription.Topic);
        activity?.SetTag("messaging.message.id", context.EventId);
        activity?.SetTag("mesh.app_id", subscription.AppId);
        var counters = metrics.For(subscription.AppId, subscription.Topic);
        counters.CountReceived();
        var seen = processed.For(subscription.AppId, subscription.Topic);
        if (seen.Contains(context.EventId))
        {
            counters.CountDuplicate();
            return DeliveryResult.Success;
        }

        DeliveryOutcome outcome;
        try
        {
            await faults.BeforeHandlerAsync(subscription.AppId, subscription.Topic, cancellationToken);
            outcome = await subscription.Dispatch(services, data, context, cancellationToken);
        }
        catch (PoisonEventException e)
        {
            logger.LogWarning(e, "Poison event {EventId} on {Topic} for {AppId}", context.EventId, subscription.Topic, subscription.AppId);
            return DeliveryResult.Poison;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning(e, "Handler failed for event {EventId} on {Topic} for {AppId}; will retry", context.EventId, subscription.Topic, subscription.AppId);
            outcome = DeliveryOutcome.Retry;
        }

        activity?.SetTag("mesh.delivery.outcome", outcome.ToString());
        if (outcome == DeliveryOutcome.Success)
        {
            seen.Add(context.EventId);
            counters.CountDelivered();
        }

        return new DeliveryResult(outcome, IsPoison: false);
    }
}

/// <summary>The outcome of one delivery attempt; <see cref="IsPoison"/> marks data that could not be deserialized.</summary>
public readonly record struct DeliveryResult(DeliveryOutcome Outcome, bool IsPoison)
{
    public static DeliveryResult Success => new(DeliveryOutcome.Success, false);
    public static DeliveryResult Poison => new(DeliveryOutcome.Drop, true);
}
