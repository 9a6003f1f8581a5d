using System.Collections.Concurrent;
using System.Text.Json;
using Mesh.Runtime.Actors;
using Microsoft.Extensions.DependencyInjection;

namespace Mesh.Runtime.Tests.Actors;

/// <summary>A small actor that exercises every part of the actor model and reports to an <see cref="ActorJournal"/>.</summary>
public sealed class CounterActor(IActorContext context, ActorJournal journal, TimeProvider clock) : IActor
{
    public const string Type = "counter";
    public const string AppId = "counter-app";

    public static IServiceCollection Register(IServiceCollection services) => services
        .AddSingleton<ActorJournal>()
        .AddActor<CounterActor>(AppId, Type, m => m
            .Add<long, long>("add", (a, amount, ct) => a.AddAsync(amount, ct))
            .Add<long, long>("fail", (a, amount, ct) => a.FailAsync(amount, ct))
            .Add<string, bool>("hold", (a, _, ct) => a.HoldAsync(ct))
            .Add<SetRequest, bool>("set", (a, request, _) => a.SetAsync(request))
            .Add<string, bool>("remove", (a, key, _) => a.RemoveAsync(key))
            .Add<string, CounterStats>("stats", (a, _, ct) => a.StatsAsync(ct))
            .Add<ReminderRequest, bool>("remind", (a, request, ct) => a.RemindAsync(request, ct))
            .Add<string, bool>("forget", (a, name, ct) => a.ForgetAsync(name, ct)));

    public Task OnActivateAsync(CancellationToken cancellationToken)
    {
        journal.Record(context.ActorId, "activate");
        return Task.CompletedTask;
    }

    public async Task OnDeactivateAsync(CancellationToken cancellationToken)
    {
        journal.Record(context.ActorId, "deactivate");
        context.State.Set("deactivations", await context.State.GetAsync<long>("deactivations", cancellationToken) + 1);
    }

    public async Task OnReminderAsync(string name, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        journal.Record(context.ActorId, $"reminder {name} {(data.IsEmpty ? "-" : System.Text.Encoding.UTF8.GetString(data.Span))} at +{(clock.GetUtcNow() - Mesh.Testing.TestClock.Start).TotalSeconds}s");
        context.State.Set("reminded", await context.State.GetAsync<long>("reminded", cancellationToken) + 1);
    }

    private async Task<long> AddAsync(long amount, CancellationToken cancellationToken)
    {
        using var _ = journal.Enter(context.ActorId);
        var count = await context.State.GetAsync<long>("count", cancellationToken);

        // Between the read and the write: calls that overlapped would lose updates here.
        await Task.Yield();
        await Task.Yield();
        context.State.Set("count", count + amount);
        return count + amount;
    }

    private async Task<long> FailAsync(long amount, CancellationToken cancellationToken)
    {
        context.State.Set("count", amount);
        await Task.Yield();
        throw new InvalidOperationException("the actor failed on purpose");
    }

    private async Task<bool> HoldAsync(CancellationToken cancellationToken)
    {
        using var _ = journal.Enter(context.ActorId);
        await journal.GateFor(context.ActorId).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
        return true;
    }

    private Task<bool> SetAsync(SetRequest request)
    {
        context.State.Set(request.Key, request.Value, request.TimeToLive);
        return Task.FromResult(true);
    }

    private Task<bool> RemoveAsync(string key)
    {
        context.State.Remove(key);
        return Task.FromResult(true);
    }

    private async Task<CounterStats> StatsAsync(CancellationToken cancellationToken) => new(
        await context.State.GetAsync<long>("count", cancellationToken),
        await context.State.GetAsync<long>("reminded", cancellationToken),
        await context.State.GetAsync<long>("deactivations", cancellationToken),
        await context.State.ContainsAsync("ttl", cancellationToken));

    private async Task<bool> RemindAsync(ReminderRequest request, CancellationToken cancellationToken)
    {
        var data = request.Data is { } d ? JsonSerializer.SerializeToUtf8Bytes(d) : default(ReadOnlyMemory<byte>);
        await context.RegisterReminderAsync(request.Name, request.DueTime, request.Period, data, cancellationToken);
        return true;
    }

    private async Task<bool> ForgetAsync(string name, CancellationToken cancellationToken)
    {
        await context.UnregisterReminderAsync(name, cancellationToken);
        return true;
    }
}

public sealed record SetRequest(string Key, long Value, TimeSpan? TimeToLive);

public sealed record ReminderRequest(string Name, TimeSpan DueTime, TimeSpan? Period = null, JsonElement? Data = null);

public sealed record CounterStats(long Count, long Reminded, long Deactivations, bool HasTtlKey);

/// <summary>What the counter actors did, per actor id: lifecycle and reminders, turns in flight, and gates for held turns.</summary>
public sealed class ActorJournal
{
    private readonly ConcurrentQueue<(string Id, string What)> _entries = new();
    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private readonly ConcurrentDictionary<string, int> _maxInFlight = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _gates = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _entered = new();

    public void Record(string id, string what) => _entries.Enqueue((id, what));

    public IReadOnlyList<string> Of(string id) => [.. _entries.Where(e => e.Id == id).Select(e => e.What)];

    public int Count(string id, string what) => _entries.Count(e => e.Id == id && e.What == what);

    public IReadOnlyList<string> Reminders(string id) => [.. Of(id).Where(w => w.StartsWith("reminder ", StringComparison.Ordinal))];

    /// <summary>The most turns of <paramref name="id"/> ever inside <c>add</c> or <c>hold</c> at once.</summary>
    public int MaxInFlight(string id) => _maxInFlight.GetValueOrDefault(id);

    public IDisposable Enter(string id)
    {
        var now = _inFlight.AddOrUpdate(id, 1, (_, n) => n + 1);
        _maxInFlight.AddOrUpdate(id, now, (_, max) => Math.Max(max, now));
        EnteredFor(id).TrySetResult();
        return new Exit(() => _inFlight.AddOrUpdate(id, 0, (_, n) => n - 1));
    }

    /// <summary>Completes when a turn of <paramref name="id"/> has entered <c>add</c> or <c>hold</c>.</summary>
    public Task WhenEntered(string id) => EnteredFor(id).Task;

    public Task GateFor(string id) => _gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public void Release(string id) => _gates.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    private TaskCompletionSource EnteredFor(string id) => _entered.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    private sealed class Exit(Action exit) : IDisposable
    {
        public void Dispose() => exit();
    }
}
