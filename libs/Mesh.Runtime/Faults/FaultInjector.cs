using System.Diagnostics.Metrics;
using Mesh.Runtime.Telemetry;
using Microsoft.Extensions.Options;

namespace Mesh.Runtime.Faults;

/// <summary>
/// Decides, from <see cref="FaultsOptions"/>, which calls fail or wait, and counts what it injected: in <c>/v1/stats</c>
/// (<c>faults</c>) and as <c>mesh.faults.injected</c>, so a run under faults says how many it met. The outage window
/// runs on the host's clock from the moment this was created (the host's start).
/// </summary>
public sealed class FaultInjector : IStatsContributor
{
    private readonly TimeProvider _clock;
    private readonly Random _random;
    private readonly DateTimeOffset _started;
    private readonly HashSet<string> _outageStores;
    private readonly Counter<long>? _injected;
    private long _handlerFailures;
    private long _handlerDelays;
    private long _storeFailures;
    private long _invocationFailures;
    private long _invocationDelays;

    public FaultInjector(IOptions<FaultsOptions> options, TimeProvider clock, IMeterFactory? meters = null)
    {
        Options = options.Value;
        _clock = clock;
        _random = new Random(Options.Seed);
        _started = clock.GetUtcNow();
        _outageStores = new HashSet<string>(Options.StoreOutageStores, StringComparer.Ordinal);
        _injected = meters?.Create(MeshTelemetry.RuntimeName).CreateCounter<long>("mesh.faults.injected", "{fault}", "Faults injected by configuration (section Faults), by kind.");
    }

    public FaultsOptions Options { get; }

    /// <summary>The outage's start and end on the host's clock; null when none is configured.</summary>
    public (DateTimeOffset From, DateTimeOffset To)? Outage =>
        Options.AffectsStores ? (_started + Options.StoreOutageAfter!.Value, _started + Options.StoreOutageAfter!.Value + Options.StoreOutageFor) : null;

    /// <summary>Before an event handler runs: waits <see cref="FaultsOptions.HandlerDelay"/>, then throws <see cref="InjectedFaultException"/> at <see cref="FaultsOptions.HandlerFailureRate"/>.</summary>
    public async ValueTask BeforeHandlerAsync(string appId, string topic, CancellationToken cancellationToken)
    {
        if (!Options.AffectsHandlers)
        {
            return;
        }

        if (Options.HandlerDelay > TimeSpan.Zero)
        {
            Count(ref _handlerDelays, "handler_delay");
            await Task.Delay(Options.HandlerDelay, _clock, cancellationToken);
        }

        if (Draw(Options.HandlerFailureRate))
        {
            Count(ref _handlerFailures, "handler_failure");
            throw new InjectedFaultException($"injected handler failure on '{topic}' for '{appId}'");
        }
    }

    /// <summary>Throws <see cref="StateStoreException"/> while <paramref name="store"/> is in its configured outage.</summary>
    public void BeforeStoreCall(string store)
    {
        if (Outage is not { } outage || (_outageStores.Count > 0 && !_outageStores.Contains(store)))
        {
            return;
        }

        var now = _clock.GetUtcNow();
        if (now >= outage.From && now < outage.To)
        {
            Count(ref _storeFailures, "store_unavailable");
            throw new StateStoreException($"state store '{store}' is unavailable (injected outage until {outage.To:O})", new InjectedFaultException("injected store outage"));
        }
    }

    /// <summary>Before a service invocation: waits <see cref="FaultsOptions.InvocationDelay"/>, then fails as a 503 at <see cref="FaultsOptions.InvocationFailureRate"/>.</summary>
    public async ValueTask BeforeInvocationAsync(string appId, string method, CancellationToken cancellationToken)
    {
        if (Options.InvocationDelay > TimeSpan.Zero)
        {
            Count(ref _invocationDelays, "invocation_delay");
            await Task.Delay(Options.InvocationDelay, _clock, cancellationToken);
        }

        if (Draw(Options.InvocationFailureRate))
        {
            Count(ref _invocationFailures, "invocation_failure");
            throw new InvocationException(appId, method, 503, "injected invocation failure", new InjectedFaultException("injected invocation failure"));
        }
    }

    public void Contribute(IDictionary<string, object?> stats)
    {
        if (!Options.AffectsHandlers && !Options.AffectsStores && !Options.AffectsInvocations)
        {
            return;
        }

        stats["faults"] = new
        {
            handlerFailures = Interlocked.Read(ref _handlerFailures),
            handlerDelays = Interlocked.Read(ref _handlerDelays),
            storeFailures = Interlocked.Read(ref _storeFailures),
            invocationFailures = Interlocked.Read(ref _invocationFailures),
            invocationDelays = Interlocked.Read(ref _invocationDelays),
            storeOutage = Outage is { } o ? new { from = o.From, to = o.To, stores = Options.StoreOutageStores } : null,
        };
    }

    private bool Draw(double rate)
    {
        if (rate <= 0)
        {
            return false;
        }

        lock (_random)
        {
            return _random.NextDouble() < rate;
        }
    }

    private void Count(ref long counter, string kind)
    {
        Interlocked.Increment(ref counter);
        _injected?.Add(1, new KeyValuePair<string, object?>("mesh.fault.kind", kind));
    }
}

/// <summary>A fault that configuration asked for (<see cref="FaultsOptions"/>), not a bug.</summary>
public sealed class InjectedFaultException(string message) : Exception(message);
