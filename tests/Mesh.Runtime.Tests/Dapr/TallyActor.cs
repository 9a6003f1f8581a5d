using Dapr.Actors;
using Dapr.Actors.Runtime;

namespace Mesh.Runtime.Tests.Dapr;

public interface ITallyActor : IActor
{
    Task<TallyResult> AddAsync(TallyRequest request);

    Task<long> FailAsync(long amount);
}

public sealed record TallyRequest(long Amount, TallyKind Kind);

public sealed record TallyResult(long Total, TallyKind LastKind);

public enum TallyKind
{
    Plain,
    BigStep,
}

/// <summary>A small Dapr.Actors actor: keeps a running total in its state, which the SDK saves at the end of each turn.</summary>
public sealed class TallyActor(ActorHost host) : Actor(host), ITallyActor
{
    public const string Type = "tally";
    public const string TotalKey = "total";

    public async Task<TallyResult> AddAsync(TallyRequest request)
    {
        var total = await StateManager.GetOrAddStateAsync(TotalKey, 0L) + request.Amount;
        await StateManager.SetStateAsync(TotalKey, total);
        return new TallyResult(total, request.Kind);
    }

    public async Task<long> FailAsync(long amount)
    {
        await StateManager.SetStateAsync(TotalKey, amount);
        throw new InvalidOperationException("fails on purpose");
    }
}
