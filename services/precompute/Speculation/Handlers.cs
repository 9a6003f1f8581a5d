using Mesh.Contracts;
using Mesh.Runtime;

namespace Mesh.Precompute.Speculation;

/// <summary>
/// An impression tells which pairs the ranker's final stage looked up (likely again at the user's next request) and which
/// stored representations it read.
/// </summary>
public sealed class ImpressionsHandler(ActiveUsers users, PrecomputeLedger ledger, Precomputer precomputer) : IEventHandler<ImpressionsServed>
{
    public async Task<DeliveryOutcome> HandleAsync(ImpressionsServed data, EventContext context, CancellationToken cancellationToken)
    {
        var at = data.OccurredAt ?? data.ServedAt;
        if (data.FinalStage is { } lookups)
        {
            foreach (var lookup in lookups.Where(l => l.Hit))
            {
                ledger.RecordRead(StateKeys.Precomputed(data.UserId, lookup.AdId), lookup.ComputedAt, at);
            }

            ledger.RecordRequest(lookups.Count, lookups.Count(l => l.Hit));
            users.RecordServed(data.UserId, lookups.Select(l => (l.AdId, l.Category)));
        }
        else
        {
            // An older router: only the served items, and which of them had a representation, are known.
            foreach (var item in data.Items.Where(i => i.Precomputed is not null))
            {
                ledger.RecordRead(StateKeys.Precomputed(data.UserId, item.AdId), null, at);
            }

            ledger.RecordRequest(0, 0);
            users.RecordServed(data.UserId, data.Items.Select(i => (i.AdId, i.Category)));
        }

        await precomputer.PrecomputeForAsync(data.UserId, at, cancellationToken);
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
/// Settles expired computations as used or wasted every <see cref="PrecomputeOptions.SweepInterval"/> of the clock,
/// expiring them against the newest instant precompute worked at (<see cref="PrecomputeLedger.Latest"/>: event time in
/// a replay), not against the clock; and, as precompute stops, settles the rest (unread ones are waste) and logs the
/// final accounting.
/// </summary>
public sealed class LedgerSweeper(
    PrecomputeLedger ledger,
    Microsoft.Extensions.Options.IOptions<PrecomputeOptions> options,
    TimeProvider clock,
    ILogger<LedgerSweeper> logger) : BackgroundService
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

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        ledger.Sweep(ledger.Latest ?? clock.GetUtcNow());
        var (used, wasted) = ledger.SettleAll();
        var stats = new Dictionary<string, object?>(StringComparer.Ordinal);
        ledger.Contribute(stats);
        logger.LogInformation("Precompute stopping: settled {Used} read and {Wasted} unread representations still live; final accounting {Accounting}",
            used, wasted, System.Text.Json.JsonSerializer.Serialize(stats["precompute"]));
    }
}
