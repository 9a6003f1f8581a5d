using Mesh.Contracts;
using Mesh.Runtime;

namespace Mesh.Trainer.Training;

public sealed class ImpressionsHandler(LabelJoiner joiner) : IEventHandler<ImpressionsServed>
{
    public Task<DeliveryOutcome> HandleAsync(ImpressionsServed data, EventContext context, CancellationToken cancellationToken)
    {
        joiner.AddImpressions(data);
        return Task.FromResult(DeliveryOutcome.Success);
    }
}

public sealed class FeedbackHandler(LabelJoiner joiner) : IEventHandler<FeedbackReceived>
{
    public Task<DeliveryOutcome> HandleAsync(FeedbackReceived data, EventContext context, CancellationToken cancellationToken)
    {
        joiner.AddFeedback(data);
        return Task.FromResult(DeliveryOutcome.Success);
    }
}
