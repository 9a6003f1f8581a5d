using System.ComponentModel.DataAnnotations;

namespace Mesh.Runtime.Faults;

/// <summary>
/// Faults to inject, for tests and for a person who wants to see the mesh under them (section <c>Faults</c>; e.g.
/// <c>--Faults:HandlerFailureRate=0.2</c>). All off by default: a host without this section runs the ports undecorated.
/// The faults are the process's: in the standalone host they reach every service in it.
/// </summary>
public sealed class FaultsOptions
{
    /// <summary>Share of event-handler attempts that throw before the handler runs (the runtime retries, then dead-letters), 0 to 1. Default 0.</summary>
    [Range(0.0, 1.0)]
    public double HandlerFailureRate { get; set; }

    /// <summary>Added before every event-handler attempt: a slow handler. Default none.</summary>
    public TimeSpan HandlerDelay { get; set; }

    /// <summary>When the state stores become unavailable, measured from the host's start on its clock; null (default): never.</summary>
    public TimeSpan? StoreOutageAfter { get; set; }

    /// <summary>How long the outage lasts: every call to an affected store throws <see cref="StateStoreException"/>. Default 60 s.</summary>
    public TimeSpan StoreOutageFor { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The stores the outage takes down (<c>embeddings</c>, <c>precomputed</c>, ...); empty (default): all of them.</summary>
    public List<string> StoreOutageStores { get; set; } = [];

    /// <summary>Share of service invocations that fail as if the callee answered 503, 0 to 1. Default 0.</summary>
    [Range(0.0, 1.0)]
    public double InvocationFailureRate { get; set; }

    /// <summary>Added before every service invocation: a slow network or callee. Default none.</summary>
    public TimeSpan InvocationDelay { get; set; }

    /// <summary>Seed of the draws that decide which attempts fail, so a run can be repeated. Default 1.</summary>
    public int Seed { get; set; } = 1;

    internal bool AffectsHandlers => HandlerFailureRate > 0 || HandlerDelay > TimeSpan.Zero;

    internal bool AffectsStores => StoreOutageAfter is not null && StoreOutageFor > TimeSpan.Zero;

    internal bool AffectsInvocations => InvocationFailureRate > 0 || InvocationDelay > TimeSpan.Zero;
}
