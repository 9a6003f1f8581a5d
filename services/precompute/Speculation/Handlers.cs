using Mesh.Contracts;
using Mesh.Runtime;

namespace Mesh.Precompute.Speculation;

/// <summary>An impression tells which ads a user is seeing now (likely again soon) and which representations were used.</summary>
public sealed class ImpressionsHandler(ActiveUsers users, PrecomputeLedger ledger, Precomputer precomputer) : IEventHandler<ImpressionsServed>
{
    public async Task<DeliveryOutcome> HandleAsync(ImpressionsServed data, EventContext context, CancellationToken cancellationToken)
    {
        foreach (var item in data.Items.Where(i => i.Precomputed is not null))
        {
            ledger.RecordUsed(StateKeys.Precomputed(data.UserId, item.AdId));
        }

        users.RecordServed(data.UserId, data.Items.Select(i => (i.AdId, i.Category)));
        await precomputer.PrecomputeForAsync(data.UserId, data.OccurredAt ?? data.ServedAt, cancellationToken);
        return DeliveryOutcome.Success;
    }
}

/// <summary>A user event means the user is active now: their next requests are near.</summary>
public sealed class UserActedHandler(Precomputer precomputer) : IEventHandler<UserActed>
{
    public async Task<DeliveryOutcome> HandleAsync(UserActed data, EventContext context, CancellationToken cancellationToken)
    {
        await precomputer.PrecomputeForAsync(data.UserId, data.OccurredAt, cancellationToken);
        return DeliveryOutcome.Success;
    }
}

/// <summary>A new embedding makes the user's representations stale: recompute them from it.</summary>
public sealed class EmbeddingUpdatedHandler(ActiveUsers users, Precomputer precomputer) : IEventHandler<UserEmbeddingUpdated>
{
    public async Task<DeliveryOutcome> HandleAsync(UserEmbeddingUpdated data, EventContext context, CancellationToken cancellationToken)
    {
        users.RecordEmbedding(data.UserId, data.Embedding);
        await precomputer.PrecomputeForAsync(data.UserId, data.Embedding.ComputedAt, cancellationToken);
        return DeliveryOutcome.Success;
    }
}

/// <summary>
/// Counts expired representations as used or wasted, every <see cref="PrecomputeOptions.SweepInterval"/> of the clock,
/// expiring them against the newest instant precompute worked at (<see cref="PrecomputeLedger.Latest"/>: event time in
/// a replay), not against the clock.
/// </summary>
public sealed class LedgerSweeper(PrecomputeLedger ledger, Microsoft.Extensions.Options.IOptions<PrecomputeOptions> options, TimeProvider clock) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SweepInterval, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                ledger.Sweep(ledger.Latest ?? clock.GetUtcNow());
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
