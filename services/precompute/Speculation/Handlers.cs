using Mesh.Contracts;
using Mesh.Runtime;

namespace Mesh.Precompute.Speculation;

/// <summary>
/// An impression tells which candidates the user's request had (likely again at their next request: the speculator's
/// prediction, <see cref="PrecomputeOptions.Speculate"/>), which pairs the final stage looked up and which stored
/// representations it read.
/// </summary>
public sealed class ImpressionsHandler(ActiveUsers users, PrecomputeLedger ledger, Precomputer precomputer, Microsoft.Extensions.Options.IOptions<PrecomputeOptions> options)
    : IEventHandler<ImpressionsServed>
{
    public async Task<DeliveryOutcome> HandleAsync(ImpressionsServed data, EventContext context, CancellationToken cancellationToken)
    {
        var at = data.OccurredAt ?? data.ServedAt;
        if (data.FinalStage is { } lookups)
        {
            foreach (var lookup in lookups)
            {
                var key = StateKeys.Precomputed(data.UserId, lookup.AdId);
                if (lookup.Hit)
                {
                    ledger.RecordRead(key, lookup.ComputedAt, at);
                }
                else
                {
                    ledger.RecordMiss(key);
                }
            }

            ledger.RecordRequest(lookups.Count, lookups.Count(l => l.Hit));
        }
        else
        {
            // No final stage looked up (a small-tier-only cascade), or an older router that only says which served items had one.
            foreach (var item in data.Items.Where(i => i.Precomputed is not null))
            {
                ledger.RecordRead(StateKeys.Precomputed(data.UserId, item.AdId), null, at);
            }

            ledger.RecordRequest(0, 0);
        }

        users.RecordServed(data.UserId, Predicted(data, options.Value.Speculate));
        if (options.Value.Speculate == SpeculationSource.Candidates && data.FinalStage is { } finalStage)
        {
            // The final stage's candidates (the small tier's best) are the likeliest to be looked up again: kept longest.
            users.RecordServed(data.UserId, finalStage.Select(l => (l.AdId, l.Category)));
        }

        await precomputer.PrecomputeForAsync(data.UserId, at, cancellationToken);
        return DeliveryOutcome.Success;
    }

    /// <summary>The pairs of <paramref name="data"/> to predict for the user's next request, from the richest source it carries up to <paramref name="source"/>.</summary>
    private static IEnumerable<(string AdId, string Category)> Predicted(ImpressionsServed data, SpeculationSource source) => source switch
    {
        SpeculationSource.Candidates when data.Candidates is { } candidates => candidates.Where(c => c.AdId is not null).Select(c => (c.AdId!, c.Category ?? "")),
        SpeculationSource.Candidates or SpeculationSource.FinalStage when data.FinalStage is { } lookups => lookups.Select(l => (l.AdId, l.Category)),
        _ => data.Items.Select(i => (i.AdId, i.Category)),
    };
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
