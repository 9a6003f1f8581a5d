using Mesh.Contracts;
using System.Text.Json;
using Mesh.Runtime.Actors;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// Actors inside one process, with Dapr's model: one turn at a time per actor id, activation on first use, deactivation
/// after <see cref="ActorRuntimeOptions.IdleTimeout"/> without a turn (checked every
/// <see cref="ActorRuntimeOptions.ScanInterval"/>), and reminders, all on the injected <see cref="TimeProvider"/>.
/// Actor state lives in the embedded state store <see cref="ActorRuntimeOptions.StateStore"/> under Dapr's keys
/// (<c>appId||type||id||key</c>); reminders are kept there too, so a host that persists its state resumes them after a
/// restart (one missed while it was down fires once at start). Calls go through JSON as they would through a sidecar.
/// </summary>
public sealed class EmbeddedActorRuntime : IActorInvoker, IActorBackend, IHostedService, IAsyncDisposable
{
    // Outside any actor's key space: actor keys start with an app-id.
    private const string ReminderPrefix = "actor-reminders||";

    private readonly ActorManager _manager;
    private readonly IStateStore _state;
    private readonly EmbeddedStateStore _store;
    private readonly ActorRuntimeOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILogger<EmbeddedActorRuntime> _logger;
    private readonly Dictionary<string, string> _appIds;
    private readonly IdleTracker _work = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _remindersLock = new();
    private readonly Dictionary<(string Type, string Id, string Name), ScheduledReminder> _reminders = [];

    // Serializes a reminder's stored record with its timer, so a late delete never removes a newer registration.
    private readonly SemaphoreSlim _reminderWrites = new(1, 1);
    private ITimer? _scanTimer;
    private bool _stopped;

    // 0: no scan; 1: scanning; 2: scanning, and a tick asked for another scan after this one.
    private int _scanState;

    internal EmbeddedActorRuntime(
        ActorManager manager,
        IStateStore state,
        EmbeddedStateStore store,
        IOptions<ActorRuntimeOptions> options,
        TimeProvider clock,
        ILogger<EmbeddedActorRuntime> logger)
    {
        _manager = manager;
        _state = state;
        _store = store;
        _options = options.Value;
        _clock = clock;
        _logger = logger;
        _appIds = manager.Types.ToDictionary(t => t.ActorType, t => t.AppId, StringComparer.Ordinal);
    }

    /// <summary>Actors active now.</summary>
    public int ActiveActors => _manager.ActiveCount;

    /// <summary>Reminders scheduled now.</summary>
    public int Reminders
    {
        get
        {
            lock (_remindersLock)
            {
                return _reminders.Count;
            }
        }
    }

    /// <summary>Whether actor <paramref name="actorType"/>/<paramref name="actorId"/> is active now.</summary>
    public bool IsActive(string actorType, string actorId) => _manager.IsActive(actorType, actorId);

    /// <summary>Completes when no reminder or idle scan is running, whatever they started included (deactivations, turns).</summary>
    public Task WaitForIdleAsync(CancellationToken cancellationToken = default) => _work.WhenIdleAsync(cancellationToken);

    /// <summary>The key of an actor's state in <see cref="ActorRuntimeOptions.StateStore"/>, as Dapr builds it.</summary>
    public string StateKey(string actorType, string actorId, string key) =>
        $"{_appIds.GetValueOrDefault(actorType) ?? throw new ArgumentException($"No actor type '{actorType}' is hosted here.", nameof(actorType))}||{actorType}||{actorId}||{key}";

    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string actorType, string actorId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        byte[] response;
        try
        {
            response = await _manager.InvokeAsync(actorType, actorId, method, MeshJson.Serialize(request), cancellationToken);
        }
        catch (ActorNotFoundException e)
        {
            throw new ActorInvocationException(actorType, actorId, method, 404, e.Message, e);
        }
        catch (Exception e) when (e is MalformedRequestException or InvalidInvocationException)
        {
            throw new ActorInvocationException(actorType, actorId, method, 400, e.Message, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The same words a caller gets through Dapr, where the details stay in the host's log; here they ride along as the inner exception.
            throw new ActorInvocationException(actorType, actorId, method, 500, $"Actor method '{method}' failed.", e);
        }

        try
        {
            return MeshJson.Deserialize<TResponse>(response);
        }
        catch (JsonException e)
        {
            throw new ActorInvocationException(actorType, actorId, method, 500, $"the response is not a valid {typeof(TResponse).Name}", e);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (_, json) in _store.Scan(_options.StateStore, ReminderPrefix))
        {
            var stored = MeshJson.Deserialize<StoredReminder>(json);
            if (_manager.Hosts(stored.ActorType))
            {
                await ScheduleAsync(stored, persist: false, cancellationToken);
            }
        }

        if (_manager.Types.Count > 0)
        {
            _scanTimer = _clock.CreateTimer(_ => OnScanDue(), null, _options.ScanInterval, _options.ScanInterval);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _scanTimer?.Dispose();
        lock (_remindersLock)
        {
            _stopped = true;

            // The records stay in the store: a restarted host schedules them again.
            foreach (var reminder in _reminders.Values)
            {
                reminder.Timer?.Dispose();
            }

            _reminders.Clear();
        }

        var drained = WaitForIdleAsync(cancellationToken);
        var timeout = Task.Delay(_options.DrainOngoingCallTimeout, _clock, cancellationToken);
        if (await Task.WhenAny(drained, timeout) != drained)
        {
            _logger.LogWarning("Embedded actors: reminders or deactivations still running after {DrainTimeout}", _options.DrainOngoingCallTimeout);
        }

        await _stopping.CancelAsync();
        await _manager.DeactivateAllAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _scanTimer?.Dispose();
        lock (_remindersLock)
        {
            _stopped = true;
            foreach (var reminder in _reminders.Values)
            {
                reminder.Timer?.Dispose();
            }
        }

        // The token source and the semaphore are cancelled but not disposed: under WebApplicationFactory the host can be
        // disposed (by WebApplication.Run's own shutdown path) while another StopAsync still runs and uses them, and
        // neither holds anything that needs freeing (no wait handle was asked for).
        await _stopping.CancelAsync();
    }

    async Task<byte[]?> IActorBackend.GetStateAsync(string actorType, string actorId, string key, CancellationToken cancellationToken)
    {
        var entry = await _state.GetAsync<JsonElement>(_options.StateStore, StateKey(actorType, actorId, key), cancellationToken);
        return entry is null ? null : JsonSerializer.SerializeToUtf8Bytes(entry.Value);
    }

    Task IActorBackend.SaveStateAsync(string actorType, string actorId, IReadOnlyList<ActorStateChange> changes, CancellationToken cancellationToken)
    {
        var operations = changes
            .Select(c => c.Value is null
                ? StateOperation.Delete(StateKey(actorType, actorId, c.Key))
                : StateOperation.UpsertJson(StateKey(actorType, actorId, c.Key), c.Value, c.TimeToLive is { } ttl ? new StateWriteOptions { TimeToLive = ttl } : null))
            .ToList();
        return _state.TransactAsync(_options.StateStore, operations, cancellationToken);
    }

    Task IActorBackend.RegisterReminderAsync(string actorType, string actorId, string name, ActorReminder reminder, CancellationToken cancellationToken)
    {
        JsonElement? data = reminder.Data is null ? null : JsonSerializer.Deserialize<JsonElement>(reminder.Data);
        var stored = new StoredReminder(actorType, actorId, name, _clock.GetUtcNow() + reminder.DueTime, reminder.Period, data);
        return ScheduleAsync(stored, persist: true, cancellationToken);
    }

    async Task IActorBackend.UnregisterReminderAsync(string actorType, string actorId, string name, CancellationToken cancellationToken)
    {
        await _reminderWrites.WaitAsync(cancellationToken);
        try
        {
            lock (_remindersLock)
            {
                if (_reminders.Remove((actorType, actorId, name), out var scheduled))
                {
                    scheduled.Timer?.Dispose();
                }
            }

            await _state.DeleteAsync(_options.StateStore, ReminderKey(actorType, actorId, name), cancellationToken: cancellationToken);
        }
        finally
        {
            _reminderWrites.Release();
        }
    }

    private async Task ScheduleAsync(StoredReminder stored, bool persist, CancellationToken cancellationToken)
    {
        await _reminderWrites.WaitAsync(cancellationToken);
        try
        {
            if (persist)
            {
                await _state.SaveAsync(_options.StateStore, ReminderKey(stored.ActorType, stored.ActorId, stored.Name), stored, cancellationToken: cancellationToken);
            }

            lock (_remindersLock)
            {
                var key = (stored.ActorType, stored.ActorId, stored.Name);
                if (_reminders.Remove(key, out var replaced))
                {
                    replaced.Timer?.Dispose();
                }

                if (_stopped)
                {
                    return;
                }

                var scheduled = new ScheduledReminder(stored);
                _reminders[key] = scheduled;
                var due = stored.DueAt - _clock.GetUtcNow();
                scheduled.Timer = _clock.CreateTimer(OnReminderDue, scheduled, due < TimeSpan.Zero ? TimeSpan.Zero : due, stored.Period ?? Timeout.InfiniteTimeSpan);
            }
        }
        finally
        {
            _reminderWrites.Release();
        }
    }

    // Timer callbacks run on the timer's thread (inside FakeTimeProvider.Advance in tests): count the work before
    // returning, so that WaitForIdleAsync after Advance covers it, and run the turn elsewhere.
    private void OnReminderDue(object? state)
    {
        _work.Begin();
        _ = Task.Run(() => FireAsync((ScheduledReminder)state!));
    }

    private async Task FireAsync(ScheduledReminder scheduled)
    {
        var r = scheduled.Stored;
        try
        {
            await _manager.ReminderAsync(r.ActorType, r.ActorId, r.Name, scheduled.Data, _stopping.Token);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Reminder {Reminder} of actor {ActorType}/{ActorId} failed", r.Name, r.ActorType, r.ActorId);
        }
        finally
        {
            try
            {
                if (r.Period is null)
                {
                    // A one-shot reminder is gone once it has fired, unless the actor registered it again meanwhile.
                    await ForgetAsync(scheduled);
                }
            }
            finally
            {
                _work.End();
            }
        }
    }

    private async Task ForgetAsync(ScheduledReminder scheduled)
    {
        var r = scheduled.Stored;
        await _reminderWrites.WaitAsync(CancellationToken.None);
        try
        {
            lock (_remindersLock)
            {
                var key = (r.ActorType, r.ActorId, r.Name);
                if (!_reminders.TryGetValue(key, out var current) || !ReferenceEquals(current, scheduled))
                {
                    return;
                }

                _reminders.Remove(key);
                scheduled.Timer?.Dispose();
            }

            await _state.DeleteAsync(_options.StateStore, ReminderKey(r.ActorType, r.ActorId, r.Name));
        }
        catch (StateStoreException e)
        {
            _logger.LogWarning(e, "Could not delete one-shot reminder {Reminder} of actor {ActorType}/{ActorId}", r.Name, r.ActorType, r.ActorId);
        }
        finally
        {
            _reminderWrites.Release();
        }
    }

    private void OnScanDue()
    {
        // Ticks coalesce: while a scan runs, further ticks ask for one more scan after it, which reads the clock afresh.
        while (true)
        {
            switch (Volatile.Read(ref _scanState))
            {
                case 0 when Interlocked.CompareExchange(ref _scanState, 1, 0) == 0:
                    _work.Begin();
                    _ = Task.Run(RunScansAsync);
                    return;
                case 1 when Interlocked.CompareExchange(ref _scanState, 2, 1) == 1:
                case 2:
                    return;
            }
        }
    }

    private async Task RunScansAsync()
    {
        try
        {
            while (true)
            {
                try
                {
                    var deactivated = await _manager.DeactivateIdleAsync(_options.IdleTimeout, _stopping.Token);
                    if (deactivated > 0)
                    {
                        _logger.LogDebug("Deactivated {Count} idle actors", deactivated);
                    }
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception e)
                {
                    _logger.LogWarning(e, "Idle actor scan failed");
                }

                if (Interlocked.CompareExchange(ref _scanState, 0, 1) == 1)
                {
                    return;
                }

                Volatile.Write(ref _scanState, 1);
            }
        }
        finally
        {
            _work.End();
        }
    }

    private string ReminderKey(string actorType, string actorId, string name) => $"{ReminderPrefix}{StateKey(actorType, actorId, name)}";

    /// <summary>A reminder as stored: when it was first due (absolute) and its period.</summary>
    private sealed record StoredReminder(string ActorType, string ActorId, string Name, DateTimeOffset DueAt, TimeSpan? Period, JsonElement? Data);

    private sealed class ScheduledReminder(StoredReminder stored)
    {
        public StoredReminder Stored { get; } = stored;
        public ReadOnlyMemory<byte> Data { get; } = stored.Data is { } d ? JsonSerializer.SerializeToUtf8Bytes(d) : ReadOnlyMemory<byte>.Empty;
        public ITimer? Timer { get; set; }
    }
}
