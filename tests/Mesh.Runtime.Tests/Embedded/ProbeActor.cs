using System.Collections.Concurrent;
using System.Text;
using Dapr.Actors;
using Dapr.Actors.Runtime;

namespace Mesh.Runtime.Tests.Embedded;

public interface IProbeActor : IActor
{
    Task<long> AddAsync(long amount, CancellationToken cancellationToken);
    Task<long> TotalAsync();
    Task FailAfterAddingAsync(long amount);
    Task RefuseAsync(string reason);
    Task<string[]> StateOperationsAsync();
    Task SetExpiringAsync(TimeSpan ttl);
    Task<bool> HasExpiringAsync();
    Task RemindAsync(ReminderRequest request);
    Task<bool> HasReminderAsync(string name);
    Task StartTimerAsync();
}

/// <summary>What <see cref="IProbeActor.RemindAsync"/> registers; a null period fires once.</summary>
public sealed record ReminderRequest(string Name, TimeSpan DueTime, TimeSpan? Period = null, string? Data = null, int? Repetitions = null);

/// <summary>What probe actors did, in order, as <c>id: what</c>.</summary>
public sealed class ProbeJournal
{
    private readonly ConcurrentQueue<string> _entries = new();

    public void Add(string actorId, string what) => _entries.Enqueue($"{actorId}: {what}");

    public IReadOnlyList<string> Of(string actorId) => [.. _entries.Where(e => e.StartsWith(actorId + ": ", StringComparison.Ordinal)).Select(e => e[(actorId.Length + 2)..])];
}

/// <summary>A Dapr.Actors actor that exercises the embedded host: its hooks, state manager, reminders and failures.</summary>
public sealed class ProbeActor : Actor, IProbeActor, IRemindable
{
    public const string Type = "probe";
    public const string AppId = "probe-app";
    private const string Total = "total";
    private const string Expiring = "expiring";
    private readonly ProbeJournal _journal;

    public ProbeActor(ActorHost host, ProbeJournal journal, IActorStateManager? stateManager = null)
        : base(host)
    {
        _journal = journal;
        if (stateManager is not null)
        {
            StateManager = stateManager;
        }
    }

    public async Task<long> AddAsync(long amount, CancellationToken cancellationToken)
    {
        var total = await StateManager.AddOrUpdateStateAsync(Total, amount, (_, t) => t + amount, cancellationToken);
        _journal.Add(Id.GetId(), $"add {amount}");
        return total;
    }

    public async Task<long> TotalAsync() => (await StateManager.TryGetStateAsync<long>(Total)) is { HasValue: true } t ? t.Value : 0;

    public async Task FailAfterAddingAsync(long amount)
    {
        await AddAsync(amount, CancellationToken.None);
        throw new InvalidOperationException("failed on purpose");
    }

    public Task RefuseAsync(string reason) => throw new InvalidInvocationException(reason);

    /// <summary>The SDK state manager's contract, step by step, on keys this method owns.</summary>
    public async Task<string[]> StateOperationsAsync()
    {
        List<string> seen = [];
        seen.Add($"tryAdd new {await StateManager.TryAddStateAsync("a", 1)}");
        seen.Add($"tryAdd again {await StateManager.TryAddStateAsync("a", 2)}");
        seen.Add($"get {await StateManager.GetStateAsync<int>("a")}");
        seen.Add($"getOrAdd {await StateManager.GetOrAddStateAsync("b", 5)}");
        seen.Add($"tryRemove {await StateManager.TryRemoveStateAsync("b")}");
        seen.Add($"contains removed {await StateManager.ContainsStateAsync("b")}");
        seen.Add($"tryRemove missing {await StateManager.TryRemoveStateAsync("missing")}");
        try
        {
            await StateManager.GetStateAsync<int>("missing");
        }
        catch (KeyNotFoundException)
        {
            seen.Add("get missing throws");
        }

        await StateManager.SetStateAsync("c", 3);
        try
        {
            await StateManager.UnloadStateAsync("c");
        }
        catch (InvalidOperationException)
        {
            seen.Add("unload modified throws");
        }

        await StateManager.SaveStateAsync();
        await StateManager.UnloadStateAsync("c");
        seen.Add($"reloaded {await StateManager.GetStateAsync<int>("c")}");
        return [.. seen];
    }

    public Task SetExpiringAsync(TimeSpan ttl) => StateManager.SetStateAsync(Expiring, "soon gone", ttl);

    public Task<bool> HasExpiringAsync() => StateManager.ContainsStateAsync(Expiring);

    public Task RemindAsync(ReminderRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var data = request.Data is null ? null : Encoding.UTF8.GetBytes(request.Data);
        var period = request.Period ?? TimeSpan.FromMilliseconds(-1);
        return request.Repetitions is { } times
            ? RegisterReminderAsync(request.Name, data, request.DueTime, period, times)
            : RegisterReminderAsync(request.Name, data, request.DueTime, period);
    }

    public async Task<bool> HasReminderAsync(string name) => await GetReminderAsync(name) is not null;

    public Task StartTimerAsync() => RegisterTimerAsync("t", nameof(TickAsync), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));

    public Task TickAsync()
    {
        _journal.Add(Id.GetId(), "tick");
        return Task.CompletedTask;
    }

    public Task ReceiveReminderAsync(string reminderName, byte[] state, TimeSpan dueTime, TimeSpan period)
    {
        var data = state is null ? "-" : Encoding.UTF8.GetString(state);
        _journal.Add(Id.GetId(), $"reminder {reminderName} {data} {dueTime} {period}");
        return Task.CompletedTask;
    }

    protected override Task OnActivateAsync()
    {
        _journal.Add(Id.GetId(), "activate");
        return Task.CompletedTask;
    }

    protected override Task OnDeactivateAsync()
    {
        _journal.Add(Id.GetId(), "deactivate");
        return Task.CompletedTask;
    }

    protected override Task OnPreActorMethodAsync(ActorMethodContext actorMethodContext)
    {
        _journal.Add(Id.GetId(), $"pre {actorMethodContext.MethodName} {actorMethodContext.CallType}");
        return Task.CompletedTask;
    }

    protected override Task OnActorMethodFailedAsync(ActorMethodContext actorMethodContext, Exception e)
    {
        _journal.Add(Id.GetId(), $"failed {actorMethodContext.MethodName}");
        return Task.CompletedTask;
    }
}

/// <summary>An actor class the embedded host cannot give a state manager: no constructor takes one.</summary>
public sealed class NoSeamActor(ActorHost host) : Actor(host), IProbeLess
{
    public Task PingAsync() => Task.CompletedTask;
}

public interface IProbeLess : IActor
{
    Task PingAsync();
}
