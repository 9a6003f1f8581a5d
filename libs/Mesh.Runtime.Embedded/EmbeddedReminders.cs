using Dapr.Actors;
using Dapr.Actors.Runtime;
using Microsoft.Extensions.Logging;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// The actors' reminders in the embedded runtime, as the SDK's <see cref="ActorTimerManager"/> (what an actor's
/// <c>RegisterReminderAsync</c> calls). Reminders are durable: each is a record in the actor state store, written when
/// it is registered and after each firing, so a restarted host schedules them again; one that fell due while the host
/// was down fires once at start, then keeps its period from there. They run on the injected <see cref="TimeProvider"/>,
/// and fire as a turn of the actor (<see cref="IRemindable.ReceiveReminderAsync"/>), activating it if needed. Supported:
/// due time, period (negative or zero: once), TTL and repetitions. Actor timers (non-durable) are not.
/// </summary>
internal sealed class EmbeddedReminders(
    IStateStore store,
    string storeName,
    Func<string, string, string, string> keyOf,
    TimeProvider clock,
    Func<StoredReminder, Task> fire,
    IdleTracker work,
    ILogger logger) : ActorTimerManager, IDisposable
{
    /// <summary>Key prefix of reminder records, outside any actor's key space (actor keys start with an app-id).</summary>
    public const string KeyPrefix = "actor-reminders||";

    private readonly Lock _lock = new();
    private readonly Dictionary<(string Type, string Id, string Name), Scheduled> _scheduled = [];

    // Orders each reminder's stored record with its schedule, so that a late write never undoes a newer registration.
    private readonly SemaphoreSlim _writes = new(1, 1);
    private bool _stopped;

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _scheduled.Count;
            }
        }
    }

    public override Task RegisterReminderAsync(ActorReminder reminder)
    {
        ArgumentNullException.ThrowIfNull(reminder);
        if (reminder.DueTime < TimeSpan.Zero)
        {
            throw new NotSupportedException("The embedded runtime does not support a reminder with a negative due time (disabled).");
        }

        var now = clock.GetUtcNow();
        var stored = new StoredReminder(
            reminder.ActorType,
            reminder.ActorId.GetId(),
            reminder.Name,
            reminder.State,
            reminder.DueTime,
            reminder.Period > TimeSpan.Zero ? reminder.Period : null,
            now + reminder.DueTime,
            now + reminder.Ttl,
            reminder.Repetitions);
        return ScheduleAsync(stored, persist: true);
    }

    public override Task<IActorReminder> GetReminderAsync(ActorReminderToken reminder)
    {
        ArgumentNullException.ThrowIfNull(reminder);
        lock (_lock)
        {
            IActorReminder? found = _scheduled.GetValueOrDefault((reminder.ActorType, reminder.ActorId.GetId(), reminder.Name)) is { Stored: var r }
                ? new ActorReminder(r.ActorType, new ActorId(r.ActorId), r.Name, r.Data, r.DueTime, r.Period ?? TimeSpan.FromMilliseconds(-1))
                : null;
            return Task.FromResult(found!);
        }
    }

    public override async Task UnregisterReminderAsync(ActorReminderToken reminder)
    {
        ArgumentNullException.ThrowIfNull(reminder);
        await _writes.WaitAsync();
        try
        {
            var key = (reminder.ActorType, reminder.ActorId.GetId(), reminder.Name);
            lock (_lock)
            {
                if (_scheduled.Remove(key, out var scheduled))
                {
                    scheduled.Timer?.Dispose();
                }
            }

            await store.DeleteAsync(storeName, KeyOf(key));
        }
        finally
        {
            _writes.Release();
        }
    }

    public override Task RegisterTimerAsync(ActorTimer timer) =>
        throw new NotSupportedException("The embedded runtime does not host actor timers; use a reminder.");

    public override Task UnregisterTimerAsync(ActorTimerToken timer) =>
        throw new NotSupportedException("The embedded runtime does not host actor timers; use a reminder.");

    /// <summary>Schedules a reminder read back from the store at start.</summary>
    public Task ResumeAsync(StoredReminder stored) => ScheduleAsync(stored, persist: false);

    // The semaphore is not disposed: a firing that outlives the host may still release it, and it holds no wait handle.
    public void Dispose() => Stop();

    /// <summary>Stops every timer; the records stay in the store for the next start.</summary>
    public void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
            foreach (var scheduled in _scheduled.Values)
            {
                scheduled.Timer?.Dispose();
            }

            _scheduled.Clear();
        }
    }

    private async Task ScheduleAsync(StoredReminder stored, bool persist)
    {
        await _writes.WaitAsync();
        try
        {
            if (persist)
            {
                await store.SaveAsync(storeName, KeyOf(stored.Key), stored);
            }

            lock (_lock)
            {
                if (_scheduled.Remove(stored.Key, out var replaced))
                {
                    replaced.Timer?.Dispose();
                }

                if (_stopped)
                {
                    return;
                }

                var scheduled = new Scheduled(stored);
                _scheduled[stored.Key] = scheduled;
                var due = stored.NextDueAt - clock.GetUtcNow();
                scheduled.Timer = clock.CreateTimer(OnDue, scheduled, due > TimeSpan.Zero ? due : TimeSpan.Zero, stored.Period ?? Timeout.InfiniteTimeSpan);
            }
        }
        finally
        {
            _writes.Release();
        }
    }

    // Timer callbacks run on the timer's thread (inside FakeTimeProvider.Advance in tests): count the work before
    // returning, so that waiting for idleness after Advance covers it, and run the turn elsewhere. One reminder's
    // firings run one after another, in order, even when a clock jump makes several due at once.
    private void OnDue(object? state)
    {
        work.Begin();
        ((Scheduled)state!).Enqueue(FireAsync);
    }

    private async Task FireAsync(Scheduled scheduled, long firing)
    {
        var r = scheduled.Stored;
        try
        {
            try
            {
                var dueAt = r.NextDueAt + ((r.Period ?? TimeSpan.Zero) * (firing - 1));
                if (IsCurrent(scheduled) && !(firing > r.RepetitionsLeft) && !(r.ExpiresAt <= dueAt))
                {
                    await fire(r);
                }
            }
            catch (OperationCanceledException)
            {
                // The host stopped before the turn ran: the record stays as it was, so the next start fires it.
                return;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Reminder {Reminder} of actor {ActorType}/{ActorId} failed", r.Name, r.ActorType, r.ActorId);
            }

            await RecordFiringAsync(scheduled, firing);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not update reminder {Reminder} of actor {ActorType}/{ActorId}", r.Name, r.ActorType, r.ActorId);
        }
        finally
        {
            work.End();
        }
    }

    /// <summary>Stores when the reminder is next due, or forgets it when it will not fire again (once, repetitions, TTL).</summary>
    private async Task RecordFiringAsync(Scheduled scheduled, long fired)
    {
        var r = scheduled.Stored;
        var next = r.NextDueAt + ((r.Period ?? TimeSpan.Zero) * fired);
        var done = r.Period is null || r.RepetitionsLeft - fired <= 0 || r.ExpiresAt <= next;
        await _writes.WaitAsync();
        try
        {
            lock (_lock)
            {
                // Unregistered or registered again meanwhile: that newer state stands.
                if (!IsCurrent(scheduled))
                {
                    return;
                }

                if (done)
                {
                    _scheduled.Remove(r.Key);
                    scheduled.Timer?.Dispose();
                }
            }

            var key = KeyOf(r.Key);
            await (done
                ? store.DeleteAsync(storeName, key)
                : store.SaveAsync(storeName, key, r with { NextDueAt = next, RepetitionsLeft = r.RepetitionsLeft - (int)fired }));
        }
        finally
        {
            _writes.Release();
        }
    }

    private bool IsCurrent(Scheduled scheduled)
    {
        lock (_lock)
        {
            return _scheduled.TryGetValue(scheduled.Stored.Key, out var current) && ReferenceEquals(current, scheduled);
        }
    }

    private string KeyOf((string Type, string Id, string Name) key) => KeyPrefix + keyOf(key.Type, key.Id, key.Name);

    private sealed class Scheduled(StoredReminder stored)
    {
        private readonly Lock _lock = new();
        private Task _firings = Task.CompletedTask;
        private long _count;

        public StoredReminder Stored { get; } = stored;
        public ITimer? Timer { get; set; }

        /// <summary>Runs <paramref name="fire"/> for the next firing (counted from 1) after the ones before it.</summary>
        public void Enqueue(Func<Scheduled, long, Task> fire)
        {
            lock (_lock)
            {
                var firing = ++_count;
                _firings = _firings.ContinueWith(_ => fire(this, firing), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
            }
        }
    }
}

/// <summary>
/// A reminder as stored: <see cref="NextDueAt"/> is when it fires next (absolute), <see cref="DueTime"/> and
/// <see cref="Period"/> are what it was registered with (null period: once), handed back to the actor when it fires.
/// </summary>
internal sealed record StoredReminder(
    string ActorType,
    string ActorId,
    string Name,
    byte[]? Data,
    TimeSpan DueTime,
    TimeSpan? Period,
    DateTimeOffset NextDueAt,
    DateTimeOffset? ExpiresAt,
    int? RepetitionsLeft)
{
    internal (string Type, string Id, string Name) Key => (ActorType, ActorId, Name);
}
