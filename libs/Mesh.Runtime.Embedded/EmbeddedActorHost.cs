using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Dapr.Actors;
using Dapr.Actors.Runtime;
using Mesh.Contracts;
using Mesh.Runtime.Actors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Embedded;

/// <summary>
/// Hosts every <see cref="HostedActorType"/> (a <c>Dapr.Actors</c> actor class) in process, with Dapr's actor model:
/// one turn at a time per actor id, activation on first use, state saved at the end of each successful turn and dropped
/// when it throws, durable reminders (<see cref="EmbeddedReminders"/>), and deactivation after
/// <see cref="EmbeddedActorOptions.IdleTimeout"/> without a turn, all on the injected <see cref="TimeProvider"/>. Calls
/// go by method name to the actor interface's method, through JSON both ways, as Dapr calls an actor without remoting.
/// It speaks no HTTP: daprd's actor API is not emulated. Calls are not reentrant (Dapr's default): an actor that calls
/// itself, directly or through another actor, waits for its own turn forever.
/// </summary>
public sealed class EmbeddedActorHost : IActorInvoker, IHostedService, IDisposable
{
    private readonly Dictionary<string, ActorTypeEntry> _types = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Type, string Id), Activation> _active = new();
    private readonly IServiceProvider _services;
    private readonly EmbeddedStateStore _store;
    private readonly EmbeddedActorOptions _options;
    private readonly TimeProvider _clock;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly EmbeddedReminders _reminders;
    private readonly IdleTracker _work = new();
    private readonly CancellationTokenSource _stopping = new();
    private ITimer? _scanTimer;

    // Idle-scan ticks not yet answered by a scan; the first starts a scan loop, later ones ask it for one more pass.
    private int _scanRequests;

    public EmbeddedActorHost(
        IEnumerable<HostedActorType> types,
        IServiceProvider services,
        EmbeddedStateStore store,
        IOptions<EmbeddedActorOptions> options,
        TimeProvider clock,
        ILoggerFactory loggers)
    {
        foreach (var type in types)
        {
            if (!_types.TryAdd(type.ActorType, ActorTypeEntry.Create(type)))
            {
                throw new InvalidOperationException($"Actor type '{type.ActorType}' is registered more than once.");
            }
        }

        _services = services;
        _store = store;
        _options = options.Value;
        _clock = clock;
        _loggers = loggers;
        _logger = loggers.CreateLogger<EmbeddedActorHost>();
        _reminders = new EmbeddedReminders(store, _options.StateStore, (type, id, name) => StateKey(type, id, name), clock, FireReminderAsync, _work, _logger);
    }

    /// <summary>Actors active now.</summary>
    public int ActiveActors => _active.Count;

    /// <summary>Reminders scheduled now.</summary>
    public int Reminders => _reminders.Count;

    public bool IsActive(string actorType, string actorId) => _active.ContainsKey((actorType, actorId));

    /// <summary>Completes when no reminder or idle scan is running, including the turns and deactivations they started.</summary>
    public Task WaitForIdleAsync(CancellationToken cancellationToken = default) => _work.WhenIdleAsync(cancellationToken);

    /// <summary>The key of an actor's state <paramref name="key"/> in <see cref="EmbeddedActorOptions.StateStore"/>, as Dapr builds it.</summary>
    public string StateKey(string actorType, string actorId, string key) =>
        $"{Require(actorType).AppId}||{actorType}||{actorId}||{key}";

    public async Task<TResponse> InvokeAsync<TRequest, TResponse>(string actorType, string actorId, string method, TRequest request, CancellationToken cancellationToken = default)
    {
        ActorInvocationException Fail(int status, string detail, Exception? inner = null) => new(actorType, actorId, method, status, detail, inner);

        if (!_types.TryGetValue(actorType, out var type))
        {
            throw Fail(404, $"no actor type '{actorType}' is hosted here");
        }

        if (!type.Methods.TryGetValue(method, out var target))
        {
            throw Fail(404, $"actor type '{actorType}' has no method '{method}'");
        }

        if (!IsValidId(actorId))
        {
            throw Fail(400, "an actor id is not empty and contains no '||'");
        }

        // Through JSON, as over the wire: the actor never shares an object with its caller.
        object? argument;
        try
        {
            argument = target.ReadArgument(MeshJson.Serialize(request));
        }
        catch (JsonException e)
        {
            throw Fail(400, $"the request is not a valid {target.ArgumentType?.Name}: {e.Message}", e);
        }

        byte[] response;
        try
        {
            response = await RunTurnAsync(type, actorId, SdkActor.CreateForActor(default, method), (actor, token) => target.InvokeAsync(actor, argument, token), cancellationToken);
        }
        catch (Exception e) when (e is InvalidInvocationException or MalformedRequestException)
        {
            throw Fail(400, e.Message, e);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The words a caller gets through Dapr, where the details stay in the host's log; here they ride along as the inner exception.
            throw Fail(500, $"actor method '{method}' failed", e);
        }

        try
        {
            // A method that returns a bare Task answers null.
            return JsonSerializer.Deserialize<TResponse>(response, MeshJson.Options)!;
        }
        catch (JsonException e)
        {
            throw Fail(500, $"the response is not a valid {typeof(TResponse).Name}", e);
        }
    }

    /// <summary>Deactivates one actor after its current turn, as daprd does when it rebalances; false when it was not active.</summary>
    public async Task<bool> DeactivateAsync(string actorType, string actorId, CancellationToken cancellationToken = default)
    {
        if (!_active.TryGetValue((actorType, actorId), out var activation))
        {
            return false;
        }

        await activation.Turn.WaitAsync(cancellationToken);
        try
        {
            return await DeactivateHeldAsync(activation);
        }
        finally
        {
            activation.Turn.Release();
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (_, json) in _store.Scan(_options.StateStore, EmbeddedReminders.KeyPrefix))
        {
            var stored = MeshJson.Deserialize<StoredReminder>(json);
            if (_types.ContainsKey(stored.ActorType))
            {
                await _reminders.ResumeAsync(stored);
            }
        }

        if (_types.Count > 0)
        {
            _scanTimer = _clock.CreateTimer(_ => OnScanDue(), null, _options.ScanInterval, _options.ScanInterval);
        }
    }

    /// <summary>
    /// Stops reminders and idle scans (a reminder turn not yet started gives up; its record stays for the next start),
    /// waits for those running, then deactivates every actor, each after its current turn, which saves its state.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _scanTimer?.Dispose();
        _reminders.Stop();
        await _stopping.CancelAsync();
        await WaitForIdleAsync(cancellationToken);
        foreach (var (type, id) in _active.Keys)
        {
            await DeactivateAsync(type, id, cancellationToken);
        }
    }

    public void Dispose()
    {
        // The token source is cancelled, not disposed: a late reminder may still read its token.
        _scanTimer?.Dispose();
        _reminders.Dispose();
        _stopping.Cancel();
    }

    private static bool IsValidId(string? id) => !string.IsNullOrWhiteSpace(id) && !id.Contains("||", StringComparison.Ordinal);

    private ActorTypeEntry Require(string actorType) =>
        _types.GetValueOrDefault(actorType) ?? throw new ArgumentException($"No actor type '{actorType}' is hosted here.", nameof(actorType));

    private async Task FireReminderAsync(StoredReminder reminder)
    {
        // As the SDK: a reminder of an actor class that is not IRemindable is dropped.
        var type = Require(reminder.ActorType);
        if (!type.Info.IsRemindable || !IsValidId(reminder.ActorId))
        {
            return;
        }

        await RunTurnAsync(type, reminder.ActorId, SdkActor.CreateForReminder(default, nameof(IRemindable.ReceiveReminderAsync)), async (actor, _) =>
        {
            await ((IRemindable)actor).ReceiveReminderAsync(reminder.Name, reminder.Data!, reminder.DueTime, reminder.Period ?? TimeSpan.FromMilliseconds(-1));
            return true;
        }, _stopping.Token);
    }

    private async Task<T> RunTurnAsync<T>(ActorTypeEntry type, string actorId, ActorMethodContext context, Func<Actor, CancellationToken, Task<T>> body, CancellationToken cancellationToken)
    {
        while (true)
        {
            var activation = _active.GetOrAdd((type.Name, actorId), static (key, clock) => new Activation(key, clock.GetUtcNow()), _clock);
            await activation.Turn.WaitAsync(cancellationToken);
            try
            {
                // Deactivated while this call waited: the next pass finds or creates the new activation.
                if (activation.Deactivated)
                {
                    continue;
                }

                var actor = activation.Actor ?? await ActivateAsync(type, activation);

                // The SDK's own turn steps: its hooks, then the state manager saved after success, cleared after failure.
                try
                {
                    await SdkActor.OnPreActorMethodAsyncInternal(actor, context);
                    var result = await body(actor, cancellationToken);
                    await SdkActor.OnPostActorMethodAsyncInternal(actor, context);
                    return result;
                }
                catch (Exception e)
                {
                    await SdkActor.OnActorMethodFailedInternalAsync(actor, context, e);
                    throw;
                }
            }
            finally
            {
                activation.Touch(_clock.GetUtcNow());
                activation.Turn.Release();
            }
        }
    }

    private async Task<Actor> ActivateAsync(ActorTypeEntry type, Activation activation)
    {
        // ActorHost's constructor that takes a timer manager is internal in Dapr.Actors 1.19.1 (the public one is obsolete
        // and takes none); CreateForTest is the public way to build a host with the runtime's pieces.
        var host = ActorHost.CreateForTest(type.Info.ImplementationType, type.Name, new ActorTestOptions
        {
            ActorId = new ActorId(activation.Key.Id),
            LoggerFactory = _loggers,
            JsonSerializerOptions = MeshJson.Options,
            TimerManager = _reminders,
        });
        var state = new EmbeddedActorStateManager(_store, _options.StateStore, StateKey(type.Name, activation.Key.Id, string.Empty), _clock);
        var actor = (Actor)type.Factory(_services, [host, state]);
        if (!ReferenceEquals(actor.StateManager, state))
        {
            throw new InvalidOperationException($"{type.Info.ImplementationType.Name} ignored the IActorStateManager its constructor was given; it must assign it to StateManager.");
        }

        try
        {
            await SdkActor.OnActivateInternalAsync(actor);
        }
        catch
        {
            // A failed activation leaves nothing behind: the next call starts afresh.
            Forget(activation);
            await DisposeAsync(actor);
            throw;
        }

        activation.Actor = actor;
        return actor;
    }

    // Called with the activation's turn held.
    private async Task<bool> DeactivateHeldAsync(Activation activation)
    {
        if (activation.Deactivated)
        {
            return false;
        }

        Forget(activation);
        if (activation.Actor is not { } actor)
        {
            return true;
        }

        try
        {
            await SdkActor.OnDeactivateInternalAsync(actor);
        }
        catch (Exception e)
        {
            _logger.LogWarning(e, "Deactivating actor {ActorType}/{ActorId} failed", activation.Key.Type, activation.Key.Id);
        }
        finally
        {
            await DisposeAsync(actor);
        }

        return true;
    }

    private void Forget(Activation activation)
    {
        activation.Deactivated = true;
        _active.TryRemove(KeyValuePair.Create(activation.Key, activation));
    }

    private static async ValueTask DisposeAsync(Actor actor)
    {
        switch (actor)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    // Timer callbacks run on the timer's thread (inside FakeTimeProvider.Advance in tests): count the work before
    // returning, so that WaitForIdleAsync after Advance covers it, and scan elsewhere. Ticks during a scan ask for one more
    // scan after it, which reads the clock afresh.
    private void OnScanDue()
    {
        if (Interlocked.Increment(ref _scanRequests) == 1)
        {
            _work.Begin();
            _ = Task.Run(ScanLoopAsync);
        }
    }

    private async Task ScanLoopAsync()
    {
        try
        {
            int answered;
            do
            {
                answered = Volatile.Read(ref _scanRequests);
                await DeactivateIdleAsync();
            }
            while (Interlocked.Add(ref _scanRequests, -answered) > 0);
        }
        finally
        {
            _work.End();
        }
    }

    private async Task DeactivateIdleAsync()
    {
        var now = _clock.GetUtcNow();
        foreach (var activation in _active.Values)
        {
            // A turn running or queued means the actor is in use, whatever its last turn's end says.
            if (now - activation.LastUsed < _options.IdleTimeout || _stopping.IsCancellationRequested || !activation.Turn.Wait(0, CancellationToken.None))
            {
                continue;
            }

            try
            {
                await DeactivateHeldAsync(activation);
            }
            finally
            {
                activation.Turn.Release();
            }
        }
    }

    /// <summary>
    /// One activation. <see cref="Turn"/> admits one turn at a time; everything else is read and written only while it
    /// is held, except <see cref="LastUsed"/>, which the idle scan reads without it.
    /// </summary>
    private sealed class Activation((string Type, string Id) key, DateTimeOffset created)
    {
        private long _lastUsedTicks = created.UtcTicks;

        public (string Type, string Id) Key { get; } = key;

        // Never disposed: a caller may still be queued on it after deactivation, and it has no wait handle to free.
        public SemaphoreSlim Turn { get; } = new(1, 1);

        public Actor? Actor { get; set; }
        public bool Deactivated { get; set; }
        public DateTimeOffset LastUsed => new(Volatile.Read(ref _lastUsedTicks), TimeSpan.Zero);

        public void Touch(DateTimeOffset now) => Volatile.Write(ref _lastUsedTicks, now.UtcTicks);
    }

    /// <summary>A hosted actor class: how to build it and its interface methods by name (the SDK's non-remoting dispatch).</summary>
    private sealed class ActorTypeEntry
    {
        private ActorTypeEntry(HostedActorType hosted, ActorTypeInformation info, ObjectFactory factory, Dictionary<string, ActorMethod> methods)
        {
            AppId = hosted.AppId;
            Info = info;
            Factory = factory;
            Methods = methods;
        }

        public string AppId { get; }
        public string Name => Info.ActorTypeName;
        public ActorTypeInformation Info { get; }
        public ObjectFactory Factory { get; }
        public Dictionary<string, ActorMethod> Methods { get; }

        public static ActorTypeEntry Create(HostedActorType hosted)
        {
            var info = ActorTypeInformation.Get(hosted.ImplementationType, hosted.ActorType);
            var methods = new Dictionary<string, ActorMethod>(StringComparer.Ordinal);
            foreach (var method in info.InterfaceTypes.SelectMany(i => i.GetMethods()))
            {
                if (!methods.TryAdd(method.Name, new ActorMethod(method)))
                {
                    throw new InvalidOperationException($"Actor type '{hosted.ActorType}' has two interface methods named '{method.Name}'; calls by name cannot tell them apart.");
                }
            }

            // The SDK's documented test seam for state, an IActorStateManager taken by the constructor, is how the
            // embedded host gives the actor its state manager (Actor.StateManager has a protected setter only).
            ObjectFactory factory;
            try
            {
                factory = ActivatorUtilities.CreateFactory(hosted.ImplementationType, [typeof(ActorHost), typeof(IActorStateManager)]);
            }
            catch (InvalidOperationException e)
            {
                throw new InvalidOperationException(
                    $"{hosted.ImplementationType.Name} needs a constructor taking an ActorHost and an IActorStateManager (optional, assigned to StateManager when given) for the embedded runtime to host it.", e);
            }

            return new ActorTypeEntry(hosted, info, factory, methods);
        }
    }

    /// <summary>An actor interface method as the SDK dispatches a call without remoting: none or one argument, read from JSON, and an optional cancellation token.</summary>
    private sealed class ActorMethod
    {
        private readonly MethodInfo _method;
        private readonly bool _takesToken;
        private readonly bool _nullArgument;
        private readonly PropertyInfo? _result;

        public ActorMethod(MethodInfo method)
        {
            var parameters = method.GetParameters().ToList();
            _takesToken = parameters.Count > 0 && parameters[^1].ParameterType == typeof(CancellationToken);
            if (_takesToken)
            {
                parameters.RemoveAt(parameters.Count - 1);
            }

            if (parameters.Count > 1 || !typeof(Task).IsAssignableFrom(method.ReturnType))
            {
                throw new InvalidOperationException($"Actor method {method.DeclaringType?.Name}.{method.Name} cannot be called by name: it must return a Task and take at most one argument besides a CancellationToken.");
            }

            _method = method;
            ArgumentType = parameters.Count == 1 ? parameters[0].ParameterType : null;
            _nullArgument = parameters.Count == 1 && new NullabilityInfoContext().Create(parameters[0]).ReadState != NullabilityState.NotNull;
            _result = method.ReturnType.IsGenericType ? method.ReturnType.GetProperty(nameof(Task<object>.Result)) : null;
        }

        public Type? ArgumentType { get; }

        /// <summary>The argument from its JSON; throws <see cref="JsonException"/> for JSON that is not one, <c>null</c> included unless the parameter is nullable.</summary>
        public object? ReadArgument(byte[] json)
        {
            if (ArgumentType is null)
            {
                return null;
            }

            return JsonSerializer.Deserialize(json, ArgumentType, MeshJson.Options) ?? (_nullArgument ? null : throw new JsonException("The JSON value was null."));
        }

        public async Task<byte[]> InvokeAsync(Actor actor, object? argument, CancellationToken cancellationToken)
        {
            object?[] arguments = (ArgumentType is null, _takesToken) switch
            {
                (true, false) => [],
                (true, true) => [cancellationToken],
                (false, false) => [argument],
                (false, true) => [argument, cancellationToken],
            };
            var task = (Task)_method.Invoke(actor, BindingFlags.DoNotWrapExceptions, null, arguments, null)!;
            await task;
            return _result is null ? "null"u8.ToArray() : JsonSerializer.SerializeToUtf8Bytes(_result.GetValue(task), _result.PropertyType, MeshJson.Options);
        }
    }
}

/// <summary>
/// The SDK's own steps of an actor's life, which its actor runtime calls and which are internal to Dapr.Actors: each
/// runs the actor's protected hook and does the state manager's part (activation: clear, hook, save; method: pre hook,
/// then post hook and save, or on failure the failure hook and clear; deactivation: clear, hook). Calling them keeps
/// the embedded host's turns the SDK's turns. Pinned by the tests of the embedded host: a Dapr.Actors version that
/// renames them fails there with MissingMethodException.
/// </summary>
internal static class SdkActor
{
    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "OnActivateInternalAsync")]
    public static extern Task OnActivateInternalAsync(Actor actor);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "OnDeactivateInternalAsync")]
    public static extern Task OnDeactivateInternalAsync(Actor actor);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "OnPreActorMethodAsyncInternal")]
    public static extern Task OnPreActorMethodAsyncInternal(Actor actor, ActorMethodContext context);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "OnPostActorMethodAsyncInternal")]
    public static extern Task OnPostActorMethodAsyncInternal(Actor actor, ActorMethodContext context);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "OnActorMethodFailedInternalAsync")]
    public static extern Task OnActorMethodFailedInternalAsync(Actor actor, ActorMethodContext context, Exception e);

    [UnsafeAccessor(UnsafeAccessorKind.StaticMethod, Name = "CreateForActor")]
    public static extern ActorMethodContext CreateForActor(ActorMethodContext type, string methodName);

    [UnsafeAccessor(UnsafeAccessorKind.StaticMethod, Name = "CreateForReminder")]
    public static extern ActorMethodContext CreateForReminder(ActorMethodContext type, string methodName);
}
